// The main job's settings: how much data, how many steps of each arm, and the learning rates and β.
// One plan for the default run (sized for < 5 minutes on 2 quiet cores with the embedded model) and a
// quick plan for tests; every field can be overridden from `juice run`'s flags.

export interface RunPlan {
  /** Synthetic demonstrations (ignored with user data). */
  synthetic: { seed: number; trainSize: number; evalSize: number };
  /** Optimizer seed of every job. */
  seed: number;
  /** Cosine decay (to 0) after the warmup: an annealed SFT, the strong baseline every other arm starts from. */
  sft: { steps: number; batchSize: number; learningRate: number; warmupSteps: number; cosine: boolean };
  irft: {
    stages: number;
    stepsPerStage: number;
    batchSize: number;
    learningRate: number;
    beta: number;
    /** Longest regenerated negative (the synthetic responses are < 30 tokens). */
    maxNewTokens: number;
    /** α of the optional SFT term added to the pairwise loss. */
    sftLossCoefficient: number;
  };
  rft: { rounds: number; promptsPerRound: number; samplesPerPrompt: number; learningRate: number; rewardLearningRate: number; maxNewTokens: number };
  /** The control continues SFT for as many optimizer steps as IRFT takes, at this learning rate. */
  control: { learningRate: number };
  eval: {
    /** Documents per task (0 = all). */
    limit: number;
    batchSize: number;
    /** Held-out demonstrations used for the implicit-reward margin (0 = all). */
    marginLimit: number;
  };
}

// How these were chosen (tuning runs on the busy 2-core machine, 200-400 held-out problems; 100 extra
// steps per arm from one SFT checkpoint). With SFT at a constant 3e-3 (batch 64, 1000 steps): IRFT at
// 1e-4 lowered NLL but cost multiple-choice accuracy (0.72 → 0.61); the SFT term (α 1) or β 0.1 instead
// of 0.5 changed little; 8 stages of 12 steps instead of 4 of 25 changed little. The control at 3e-3 got
// worse than SFT, at 3e-4 much better (NLL 0.31 → 0.25, exact match 0.31 → 0.41): the annealing a
// constant-lr SFT lacks. So SFT decays (cosine to 0) to a converged baseline (NLL 0.20, MC 0.72, exact
// match 0.44). From it, IRFT at 3e-5 raised NLL by 9 % (with α 1 too), at 1e-5 kept NLL, MC and exact
// match; the control at 3e-4 raised NLL by 4 %, at 1e-4 kept them; RFT (RLOO, 32 policy steps) at 1e-4
// raised NLL by 30 % and cost 10 points of exact match, at 3e-5 4 %, at 1e-5 kept them. Each arm gets
// its best of those.
export const DEFAULT_PLAN: RunPlan = {
  synthetic: { seed: 0, trainSize: 4000, evalSize: 400 },
  seed: 42,
  sft: { steps: 1000, batchSize: 64, learningRate: 3e-3, warmupSteps: 20, cosine: true },
  irft: { stages: 4, stepsPerStage: 25, batchSize: 32, learningRate: 1e-5, beta: 0.5, maxNewTokens: 32, sftLossCoefficient: 0 },
  rft: { rounds: 4, promptsPerRound: 64, samplesPerPrompt: 4, learningRate: 1e-5, rewardLearningRate: 1e-4, maxNewTokens: 32 },
  control: { learningRate: 1e-4 },
  eval: { limit: 0, batchSize: 32, marginLimit: 400 },
};

/** A reduced run for the end-to-end test: the same pipeline, fewer rows and steps. */
export const QUICK_PLAN: RunPlan = {
  ...DEFAULT_PLAN,
  synthetic: { seed: 0, trainSize: 2000, evalSize: 100 },
  sft: { steps: 300, batchSize: 64, learningRate: 3e-3, warmupSteps: 10, cosine: true },
  // 30 steps from an SFT far from converged: 3x the default steps' size, so the margin moves measurably.
  irft: { ...DEFAULT_PLAN.irft, stages: 2, stepsPerStage: 15, learningRate: 3e-5 },
  rft: { ...DEFAULT_PLAN.rft, rounds: 2, promptsPerRound: 32, learningRate: 3e-5 },
  control: { learningRate: 3e-4 },
  eval: { limit: 100, batchSize: 32, marginLimit: 100 },
};

/** Optimizer steps IRFT takes in total: the control gets exactly as many. */
export function irftSteps(plan: RunPlan): number {
  return plan.irft.stages * plan.irft.stepsPerStage;
}

/**
 * `--quick --pretrain`: the end-to-end test of the real-text preset, about two minutes on a loaded
 * 2-core machine after the quick base: 400 demonstrations, 60 SFT steps of 16, IRFT 2 × 5 steps, one
 * RFT round of 16 prompts, 50 held-out rows. It checks the path, not the method.
 */
export const QUICK_PRETRAINED_PLAN: RunPlan = {
  ...QUICK_PLAN,
  synthetic: { seed: 0, trainSize: 400, evalSize: 50 },
  sft: { steps: 60, batchSize: 16, learningRate: 3e-3, warmupSteps: 5, cosine: true },
  irft: { ...QUICK_PLAN.irft, stages: 2, stepsPerStage: 5, batchSize: 16 },
  rft: { ...QUICK_PLAN.rft, rounds: 1, promptsPerRound: 16 },
  eval: { limit: 50, batchSize: 32, marginLimit: 50 },
};
