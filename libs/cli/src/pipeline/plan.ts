// The main job's settings: how much data, how many steps of each arm, and the learning rates and β.
// One plan for the default run (sized for < 5 minutes on 2 quiet cores with the embedded model) and a
// quick plan for tests; every field can be overridden from `juice run`'s flags.

export interface RunPlan {
  /** Synthetic demonstrations (ignored with user data). */
  synthetic: { seed: number; trainSize: number; evalSize: number };
  /** Optimizer seed of every job. */
  seed: number;
  sft: { steps: number; batchSize: number; learningRate: number; warmupSteps: number };
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

export const DEFAULT_PLAN: RunPlan = {
  synthetic: { seed: 0, trainSize: 4000, evalSize: 200 },
  seed: 42,
  sft: { steps: 600, batchSize: 64, learningRate: 3e-3, warmupSteps: 20 },
  irft: { stages: 4, stepsPerStage: 25, batchSize: 32, learningRate: 3e-4, beta: 0.5, maxNewTokens: 32, sftLossCoefficient: 0 },
  rft: { rounds: 4, promptsPerRound: 64, samplesPerPrompt: 4, learningRate: 1e-4, rewardLearningRate: 1e-4, maxNewTokens: 32 },
  control: { learningRate: 3e-3 },
  eval: { limit: 0, batchSize: 32, marginLimit: 200 },
};

/** A reduced run for the end-to-end test: the same pipeline, fewer rows and steps. */
export const QUICK_PLAN: RunPlan = {
  ...DEFAULT_PLAN,
  synthetic: { seed: 0, trainSize: 1200, evalSize: 60 },
  sft: { steps: 200, batchSize: 64, learningRate: 3e-3, warmupSteps: 10 },
  irft: { ...DEFAULT_PLAN.irft, stages: 2, stepsPerStage: 15 },
  rft: { ...DEFAULT_PLAN.rft, rounds: 2, promptsPerRound: 32 },
  eval: { limit: 60, batchSize: 32, marginLimit: 60 },
};

/** Optimizer steps IRFT takes in total: the control gets exactly as many. */
export function irftSteps(plan: RunPlan): number {
  return plan.irft.stages * plan.irft.stepsPerStage;
}
