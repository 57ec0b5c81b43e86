// The REWARD_MODEL job: Bradley-Terry on preference pairs (prompt, chosen, rejected). The reward model
// starts from the job's model: a *ForSequenceClassification directory as it is, a causal LM (or the
// embedded default) with a fresh seeded score head. Embeddings and the lowest frozen_layers layers stay
// fixed. Held-out pairs (spec.eval_datasets) are scored before and after training. The result is saved
// as an HF *ForSequenceClassification checkpoint, which the reward-model service serves as it is.
// (Resume restarts the job from its initial weights: reward-model jobs are short next to RFT/IRFT.)
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { RewardModelTrainer, type PairExample } from '@juice/algorithms';
import { CheckpointStore } from '@juice/checkpoint';
import { loadPreferencePairs, pairToExamples, promptToDisplayText, requestModelDir, tokenizePreferencePair, type PreferencePair } from '@juice/data';
import type { LoadedModel } from '@juice/models';
import { JobProgressSchema } from '@juice/proto';
import { badSpec } from './job-error.js';
import type { JobRunner } from '../job-manager.js';
import { checkpointDir, resolveModel } from './model-source.js';
import { saveCheckpoint } from './save-checkpoint.js';
import { accumulationSteps, optimizerSettings, rowsPerStep, scheduleSettings, truncation } from './hyperparameters.js';
import { loadRewardParams, rewardHfConfig, rewardParamsFromLm } from './reward-weights.js';
import type { ParamSet } from '@juice/optim';

// StepMetrics documents the pairwise names for REWARD_MODEL jobs; the loop reports rm/*.
const RENAME: Record<string, string> = { 'rm/loss': 'loss', 'rm/lr': 'lr', 'rm/grad_norm': 'grad_norm', 'rm/chosen': 'reward/chosen', 'rm/rejected': 'reward/rejected', 'rm/margin': 'reward/margin', 'rm/accuracy': 'reward/accuracy' };

export function rewardModelRunner(storeRoot: string): JobRunner {
  const store = CheckpointStore.open(join(storeRoot, 'checkpoints'));
  return async (ctx) => {
    const spec = ctx.job.spec!;
    const h = spec.hyperparameters;
    const rc = spec.algorithmConfig.case === 'rewardModel' ? spec.algorithmConfig.value : undefined;
    const raw = (await Promise.all(spec.datasets.map((d) => loadPreferencePairs(d, { signal: ctx.signal })))).flat();
    if (raw.length === 0) throw badSpec('spec.datasets', 'no preference pairs selected');
    const heldRaw = (await Promise.all(spec.evalDatasets.map((d) => loadPreferencePairs(d, { signal: ctx.signal })))).flat();
    const seed = Number(h?.seed || 42n);
    const { model, params } = startingWeights(spec.model, join(storeRoot, 'jobs', ctx.job.id), () => raw.flatMap((p) => [promptToDisplayText(p.prompt), p.chosen, p.rejected]), seed, storeRoot);
    const limits = truncation(h, model.config.maxPositions);
    const tokenize = (ps: PreferencePair[]): PairExample[] =>
      ps.map((p) => {
        const [chosen, rejected] = pairToExamples(tokenizePreferencePair(model.tokenizer, p, limits));
        return { chosen, rejected };
      });
    const pairs = tokenize(raw);
    const heldOut = tokenize(heldRaw);
    const batchSize = h?.batchSize || 8;
    const steps = Number(h?.maxSteps ?? 0n) || Math.ceil(pairs.length / rowsPerStep(h)) * (h?.epochs || 1);
    if ((rc?.frozenLayers ?? 0) > model.config.numLayers) throw badSpec('spec.reward_model.frozen_layers', `must be in 0..${model.config.numLayers} (the model's layers), got ${rc!.frozenLayers}`);
    ctx.job.progress = create(JobProgressSchema, { totalSteps: BigInt(steps) });
    ctx.save();
    const learningRate = h?.learningRate || 1e-5;
    const trainer = await RewardModelTrainer.create({
      config: model.config,
      params,
      padTokenId: model.tokenizer.padTokenId ?? model.tokenizer.eosTokenIds[0] ?? 0,
      learningRate,
      frozenLayers: rc?.frozenLayers ?? 0,
      centerCoefficient: rc?.centerRewardsCoefficient ?? 0,
      maxGradNorm: h?.maxGradNorm ?? 1,
      optimizer: optimizerSettings(h),
    });
    const evaluate = async (step: number) => {
      if (heldOut.length === 0) return;
      const e = await trainer.evaluate(heldOut, batchSize * 2);
      const metrics = { 'eval/loss': e.loss, 'eval/reward/accuracy': e.accuracy, 'eval/reward/margin': e.margin };
      ctx.job.latestMetrics = { ...ctx.job.latestMetrics, ...metrics };
      ctx.emit({ case: 'evaluation', value: { step: BigInt(step), metrics } });
    };
    try {
      await evaluate(0);
      await trainer.fit({
        pairs,
        batchSize,
        steps,
        seed,
        ...scheduleSettings(h, steps),
        gradientAccumulationSteps: accumulationSteps(h),
        noShuffle: h?.noShuffle ?? false,
        signal: ctx.signal,
        onStep: (step, m) => {
          const metrics = Object.fromEntries(Object.entries(m).map(([k, v]) => [RENAME[k] ?? k, v]));
          ctx.job.progress!.step = BigInt(step);
          ctx.job.progress!.fraction = step / steps;
          ctx.job.latestMetrics = { ...ctx.job.latestMetrics, ...metrics };
          ctx.emit({ case: 'stepMetrics', value: { step: BigInt(step), metrics } });
          if (step % 10 === 0) ctx.save();
        },
      });
      await evaluate(steps);
    } finally {
      await trainer.release();
    }
    await saveCheckpoint(ctx, store, model, steps, 'REWARD_MODEL', { params, config: rewardHfConfig(model.config, `juice-reward_model-${ctx.job.id}`) });
  };
}

/** The job's model as reward weights (a reward directory as is; a causal LM or the embedded default with a fresh head). */
function startingWeights(source: Parameters<typeof resolveModel>[0], jobDir: string, corpus: () => string[], seed: number, storeRoot: string): { model: LoadedModel; params: ParamSet } {
  if (source?.kind.case === 'hfDir') return loadRewardParams(requestModelDir(source.kind.value, 'spec.model.hf_dir'), seed);
  if (source?.kind.case === 'checkpoint') return loadRewardParams(checkpointDir(source.kind.value, join(storeRoot, 'checkpoints')), seed);
  const model = resolveModel(source, jobDir, corpus, seed, storeRoot);
  return { model, params: rewardParamsFromLm(model, seed) };
}
