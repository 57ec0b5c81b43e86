// The REWARD_MODEL job: Bradley-Terry on preference pairs (prompt, chosen, rejected). The reward model
// starts from the job's model: a *ForSequenceClassification directory as it is, a causal LM (or the
// embedded default) with a fresh seeded score head. Embeddings and the lowest frozen_layers layers stay
// fixed. Held-out pairs (spec.eval_datasets) are scored before and after training. The result is saved
// as an HF *ForSequenceClassification checkpoint, which the reward-model service serves as it is.
// (Resume restarts the job from its initial weights: reward-model jobs are short next to RFT/IRFT.)
import { create } from '@bufbuild/protobuf';
import { RewardModelTrainer } from '@juice/algorithms';
import { JobProgressSchema } from '@juice/proto';
import type { JobRunner } from '../job-manager.js';
import { prepareJob } from '../pipeline/prepare.js';
import { reportStep } from '../pipeline/report.js';
import { resolveRewardModel } from '../settings/reward-model.js';
import { preferenceRows, tokenizePairs } from './dpo-runner.js';
import { resolveRewardWeights } from './model-source.js';
import { rewardHfConfig } from './reward-weights.js';
import { saveCheckpoint } from './save-checkpoint.js';

// StepMetrics documents the pairwise names for REWARD_MODEL jobs; the loop reports rm/*.
const RENAME: Record<string, string> = { 'rm/loss': 'loss', 'rm/lr': 'lr', 'rm/grad_norm': 'grad_norm', 'rm/chosen': 'reward/chosen', 'rm/rejected': 'reward/rejected', 'rm/margin': 'reward/margin', 'rm/accuracy': 'reward/accuracy' };

export function rewardModelRunner(): JobRunner {
  return async (ctx) => {
    const job = await prepareJob(ctx, { algorithm: 'REWARD_MODEL', ...preferenceRows, weights: resolveRewardWeights, restoreWeights: false });
    const { model, params } = job;
    const toPair = tokenizePairs(model.tokenizer, job.limits);
    const pairs = job.rows.map(toPair);
    const heldOut = job.evalRows.map(toPair);
    const s = resolveRewardModel(job.spec, { rows: pairs.length, numLayers: model.config.numLayers });
    ctx.job.progress = create(JobProgressSchema, { totalSteps: BigInt(s.totalSteps) });
    ctx.save();
    const trainer = await RewardModelTrainer.create({
      config: model.config,
      params,
      padTokenId: job.padTokenId,
      learningRate: s.learningRate,
      frozenLayers: s.frozenLayers,
      centerCoefficient: s.centerCoefficient,
      maxGradNorm: s.maxGradNorm,
      optimizer: s.optimizerSettings,
    });
    const evaluate = async (step: number) => {
      if (heldOut.length === 0) return;
      const e = await trainer.evaluate(heldOut, s.batchSize * 2);
      const metrics = { 'eval/loss': e.loss, 'eval/reward/accuracy': e.accuracy, 'eval/reward/margin': e.margin };
      ctx.job.latestMetrics = { ...ctx.job.latestMetrics, ...metrics };
      ctx.emit({ case: 'evaluation', value: { step: BigInt(step), metrics } });
    };
    try {
      await evaluate(0);
      await trainer.fit({
        ...s,
        pairs,
        steps: s.totalSteps,
        signal: ctx.signal,
        onStep: (step, m) => reportStep(ctx, step, Object.fromEntries(Object.entries(m).map(([k, v]) => [RENAME[k] ?? k, v])), { totalSteps: s.totalSteps }),
      });
      await evaluate(s.totalSteps);
    } finally {
      await trainer.release();
    }
    await saveCheckpoint(ctx, job.store, model, s.totalSteps, 'REWARD_MODEL', { params, config: rewardHfConfig(model.config, `juice-reward_model-${ctx.job.id}`) });
  };
}
