// The REWARD_MODEL job: Bradley-Terry on preference pairs (prompt, chosen, rejected). The reward model
// starts from the job's model: a *ForSequenceClassification directory as it is, a causal LM (or the
// embedded default) with a fresh seeded score head. Embeddings and the lowest frozen_layers layers stay
// fixed. Held-out pairs (spec.eval_datasets) are scored before training, at EvalConfig.every_n_steps and
// after the last step. Every checkpoint (CheckpointConfig.every_n_steps, epoch ends, a stop, the end) is
// an HF *ForSequenceClassification directory, which the reward-model service serves as it is, plus the
// trainer state: the optimizer's moments ("reward"), step, data cursor and the frozen-layer setup, so a
// job killed mid-way resumes at the next step and ends with the weights of an uninterrupted run.
import { create } from '@bufbuild/protobuf';
import { RewardModelTrainer } from '@juice/algorithms';
import { JobProgressSchema } from '@juice/proto';
import type { JobRunner } from '../job-manager.js';
import { prepareJob } from '../pipeline/prepare.js';
import { reportStep } from '../pipeline/report.js';
import { resolveRewardModel } from '../settings/reward-model.js';
import { preferenceRows, tokenizePairs } from './dpo-runner.js';
import { unusableCheckpoint } from './job-error.js';
import { loopAfterStep, loopResume } from './loop-points.js';
import { resolveRewardWeights } from './model-source.js';
import { rewardHfConfig } from './reward-weights.js';

// StepMetrics documents the pairwise names for REWARD_MODEL jobs; the loop reports rm/*.
const RENAME: Record<string, string> = { 'rm/loss': 'loss', 'rm/lr': 'lr', 'rm/grad_norm': 'grad_norm', 'rm/chosen': 'reward/chosen', 'rm/rejected': 'reward/rejected', 'rm/margin': 'reward/margin', 'rm/accuracy': 'reward/accuracy' };
/** The trainer-state name of the reward model's optimizer (as in RFT's state). */
const OPTIMIZER = 'reward';

/** What a REWARD_MODEL checkpoint adds to the trainer state (TrainerState.extra). */
interface RewardModelResumeState {
  /** The tensors held fixed (embeddings + the lowest frozen_layers layers): their moments are not in the optimizer's update. */
  frozenLayers: number;
  frozen: string[];
}

export function rewardModelRunner(): JobRunner {
  return async (ctx) => {
    // The checkpoint's weights are the reward weights (backbone + score head): prepareJob restores them into `params`.
    const job = await prepareJob(ctx, { algorithm: 'REWARD_MODEL', ...preferenceRows, weights: resolveRewardWeights });
    const { model, params, restored, lora } = job;
    const toPair = tokenizePairs(model.tokenizer, job.limits);
    const pairs = job.rows.map(toPair);
    const heldOut = job.evalRows.map(toPair);
    const s = resolveRewardModel(job.spec, { rows: pairs.length, numLayers: model.config.numLayers });
    const startStep = restored?.state.step ?? 0;
    ctx.job.progress = create(JobProgressSchema, { totalSteps: BigInt(s.totalSteps), step: BigInt(startStep), fraction: startStep / s.totalSteps });
    ctx.save();
    const trainer = await RewardModelTrainer.create({
      config: model.config,
      // LoRA: the adapters and the score head train on the frozen reward weights (PEFT SEQ_CLS).
      params: lora?.adapters ?? params,
      lora: lora?.training,
      padTokenId: job.padTokenId,
      learningRate: s.learningRate,
      frozenLayers: s.frozenLayers,
      centerCoefficient: s.centerCoefficient,
      maxGradNorm: s.maxGradNorm,
      optimizer: s.optimizerSettings,
    });
    const setup: RewardModelResumeState = { frozenLayers: s.frozenLayers, frozen: trainer.frozen };
    if (restored) checkFrozenSetup(restored.state.extra as Partial<RewardModelResumeState> | undefined, setup, restored.checkpoint.version);
    const points = job.points(undefined, { weights: { params, config: rewardHfConfig(model.config, `juice-reward_model-${ctx.job.id}`) } });
    const evalEvery = Number(job.spec.evaluation?.everyNSteps ?? 0n);
    const evaluate = async (step: number) => {
      if (heldOut.length === 0) return;
      const e = await trainer.evaluate(heldOut, s.batchSize * 2);
      const metrics = { 'eval/loss': e.loss, 'eval/reward/accuracy': e.accuracy, 'eval/reward/margin': e.margin };
      ctx.job.latestMetrics = { ...ctx.job.latestMetrics, ...metrics };
      ctx.emit({ case: 'evaluation', value: { step: BigInt(step), metrics } });
    };
    const afterStep = loopAfterStep(ctx, points, () => ({ extra: setup as unknown as Record<string, unknown> }), OPTIMIZER);
    try {
      if (!restored) await evaluate(0);
      await trainer.fit({
        ...s,
        pairs,
        steps: s.totalSteps,
        signal: ctx.signal,
        ...loopResume(restored, pairs.length, OPTIMIZER),
        onStep: (step, m) => reportStep(ctx, step, Object.fromEntries(Object.entries(m).map(([k, v]) => [RENAME[k] ?? k, v])), { totalSteps: s.totalSteps }),
        // The last step's checkpoint records the final held-out metrics with it.
        afterStep: async (at) => {
          if (at.last || (evalEvery > 0 && at.step % evalEvery === 0)) await evaluate(at.step);
          await afterStep(at);
        },
      });
    } finally {
      await trainer.release();
    }
  };
}

/** A resumed job must hold the same tensors fixed as the run that saved the checkpoint (its moments assume it). */
function checkFrozenSetup(saved: Partial<RewardModelResumeState> | undefined, now: RewardModelResumeState, version: number): void {
  if (saved?.frozen === undefined) return;
  if (saved.frozenLayers !== now.frozenLayers || saved.frozen.join(',') !== now.frozen.join(',')) {
    throw unusableCheckpoint(`checkpoint v${version} was trained with frozen_layers ${saved.frozenLayers} (${saved.frozen.length} fixed tensors); this job freezes ${now.frozenLayers} (${now.frozen.length})`);
  }
}
