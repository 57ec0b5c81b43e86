// The SFT job: demonstrations → tokenized examples → runSft, with checkpoints (weights + trainer state)
// every CheckpointConfig.every_n_steps and at epoch ends, held-out NLL (eval/loss) on eval_datasets, and
// resume: a job restarted from a checkpoint continues bit-identically (weights, AdamW state, data cursor).
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { runSft } from '@juice/algorithms';
import { CheckpointStore } from '@juice/checkpoint';
import { loadDemonstrations, promptToDisplayText, tokenizeDemonstration } from '@juice/data';
import { JobProgressSchema, LossReduction } from '@juice/proto';
import type { JobRunner } from '../job-manager.js';
import { demonstrationEvaluator } from './held-out-eval.js';
import { JobPoints } from './job-points.js';
import { rowsPerStep, truncation } from './hyperparameters.js';
import { resolveModel } from './model-source.js';
import { resumePoint } from './resume-point.js';
import { singlePassAfterStep, singlePassOptions } from './single-pass.js';
import { restoreWeights } from './trainer-state.js';
import { badSpec } from './job-error.js';

export function sftRunner(storeRoot: string): JobRunner {
  const store = CheckpointStore.open(join(storeRoot, 'checkpoints'));
  return async (ctx) => {
    const spec = ctx.job.spec!;
    const h = spec.hyperparameters;
    const demos = (await Promise.all(spec.datasets.map((d) => loadDemonstrations(d, { signal: ctx.signal })))).flat();
    if (demos.length === 0) throw badSpec('spec.datasets', 'no demonstrations selected (check split and max_rows)');
    const seed = Number(h?.seed || 42n);
    const model = resolveModel(spec.model, join(storeRoot, 'jobs', ctx.job.id), () => demos.map((d) => `${promptToDisplayText(d.prompt)}\n${d.response}`), seed, storeRoot);
    const limits = truncation(h, model.config.maxPositions);
    const tokenize = (d: (typeof demos)[number]) => tokenizeDemonstration(model.tokenizer, d, limits);
    const sft = spec.algorithmConfig.case === 'sft' ? spec.algorithmConfig.value : undefined;
    const examples = demos.map(tokenize);
    const maxSteps = Number(h?.maxSteps ?? 0n);
    const batchSize = h?.batchSize || 8;
    const total = maxSteps > 0 ? maxSteps : Math.ceil(examples.length / rowsPerStep(h)) * (h?.epochs || 1);
    const padTokenId = model.tokenizer.padTokenId ?? model.tokenizer.eosTokenIds[0] ?? 0;
    const restored = resumePoint(ctx, store, 'SFT', 'trainer.sft');
    if (restored) restoreWeights(model.params, restored.checkpoint);
    const evalDemos = (await Promise.all(spec.evalDatasets.map((d) => loadDemonstrations(d, { signal: ctx.signal })))).flat();
    const evaluator = evalDemos.length ? await demonstrationEvaluator({ config: model.config, params: model.params, examples: evalDemos.map(tokenize), padTokenId, batchSize }) : undefined;
    const points = new JobPoints(ctx, { store, model, algorithm: 'SFT', seed, shuffle: !h?.noShuffle, evaluator, best: restored?.state.best });
    const startStep = restored?.state.step ?? 0;
    let tokens = BigInt(restored?.state.tokens ?? '0');
    ctx.job.progress = create(JobProgressSchema, { totalSteps: BigInt(total), totalEpochs: h?.epochs || 1, step: BigInt(startStep), fraction: startStep / total, tokens });
    ctx.save();
    try {
      if (!restored) await points.atStart({ step: 0, epoch: 0, stage: 0, stageStep: 0, cursor: { epoch: 0, rowsConsumed: 0, shuffleSeed: seed }, optimizers: () => ({}), tokens });
      await runSft({
        config: model.config,
        params: model.params,
        examples,
        padTokenId,
        batchSize,
        maxSteps,
        epochs: h?.epochs || 1,
        lossReduction: sft?.lossReduction === LossReduction.SEQUENCE_SUM ? 'sequence_sum' : 'token_mean',
        trainOnPrompt: sft?.trainOnPrompt ?? false,
        ...singlePassOptions(ctx, h, restored, examples.length, 2e-5, seed, total),
        onStep: (step, epoch, metrics) => {
          tokens += BigInt(Math.round(metrics.tokens_per_second! * metrics.step_seconds!));
          const progress = ctx.job.progress!;
          progress.step = BigInt(step);
          progress.epoch = epoch;
          progress.fraction = step / total;
          progress.tokens = tokens;
          ctx.job.latestMetrics = { ...ctx.job.latestMetrics, ...metrics };
          ctx.emit({ case: 'stepMetrics', value: { step: BigInt(step), epoch, metrics } });
          if (step % 10 === 0) ctx.save();
        },
        afterStep: singlePassAfterStep(ctx, points, () => ({ tokens })),
      });
    } finally {
      await evaluator?.release();
    }
  };
}
