// The SFT job: demonstrations → tokenized examples → runSft → a checkpoint in the store (an HF
// directory with a hashed manifest), reported through the job's event stream.
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { runSft } from '@juice/algorithms';
import { CheckpointStore } from '@juice/checkpoint';
import { loadDemonstrations, promptToDisplayText, tokenizeDemonstration } from '@juice/data';
import { JobProgressSchema } from '@juice/proto';
import { SCHEDULES } from './enums.js';
import type { JobRunner } from '../job-manager.js';
import { resolveModel } from './model-source.js';
import { saveCheckpoint } from './save-checkpoint.js';

export function sftRunner(storeRoot: string): JobRunner {
  const store = CheckpointStore.open(join(storeRoot, 'checkpoints'));
  return async (ctx) => {
    const spec = ctx.job.spec!;
    const h = spec.hyperparameters;
    const demos = (await Promise.all(spec.datasets.map((d) => loadDemonstrations(d, { signal: ctx.signal })))).flat();
    if (demos.length === 0) throw Object.assign(new Error('spec.datasets: no demonstrations selected (check split and max_rows)'), { grpcCode: 'INVALID_ARGUMENT' });
    const seed = Number(h?.seed || 42n);
    const model = resolveModel(spec.model, join(storeRoot, 'jobs', ctx.job.id), () => demos.map((d) => `${promptToDisplayText(d.prompt)}\n${d.response}`), seed);
    const maxLength = h?.maxLength || Math.min(512, model.config.maxPositions);
    const examples = demos.map((d) => tokenizeDemonstration(model.tokenizer, d, { maxLength, maxPromptLength: h?.maxPromptLength || undefined }));
    const maxSteps = Number(h?.maxSteps ?? 0n);
    const batchSize = h?.batchSize || 8;
    const total = maxSteps > 0 ? maxSteps : Math.ceil(examples.length / batchSize) * (h?.epochs || 1);
    ctx.job.progress = create(JobProgressSchema, { totalSteps: BigInt(total), totalEpochs: h?.epochs || 1 });
    ctx.save();
    let tokens = 0n;
    await runSft({
      config: model.config,
      params: model.params,
      examples,
      padTokenId: model.tokenizer.padTokenId ?? model.tokenizer.eosTokenIds[0] ?? 0,
      batchSize,
      maxSteps,
      epochs: h?.epochs || 1,
      learningRate: h?.learningRate || 2e-5,
      schedule: SCHEDULES[h?.lrSchedule ?? 0] ?? 'constant',
      warmupSteps: h?.warmupSteps ?? 0,
      weightDecay: h?.weightDecay ?? 0,
      maxGradNorm: h?.maxGradNorm ?? 1,
      seed,
      signal: ctx.signal,
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
    });
    await saveCheckpoint(ctx, store, model, total, 'SFT');
  };
}
