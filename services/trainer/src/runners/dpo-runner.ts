// The DPO job: preference pairs (prompt, chosen, rejected), π_ref the frozen initial model, the pairwise
// loss of the job's DpoConfig; then a checkpoint. (IRFT uses the same loop with its own negatives.)
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { runPairwise } from '@juice/algorithms';
import { CheckpointStore } from '@juice/checkpoint';
import { loadPreferencePairs, pairToExamples, promptToDisplayText, tokenizePreferencePair } from '@juice/data';
import { JobProgressSchema } from '@juice/proto';
import type { JobRunner } from '../job-manager.js';
import { resolveModel } from './model-source.js';
import { saveCheckpoint } from './save-checkpoint.js';
import { PAIR_LOSSES, SCHEDULES } from './enums.js';

export function dpoRunner(storeRoot: string): JobRunner {
  const store = CheckpointStore.open(join(storeRoot, 'checkpoints'));
  return async (ctx) => {
    const spec = ctx.job.spec!;
    const h = spec.hyperparameters;
    const dpo = spec.algorithmConfig.case === 'dpo' ? spec.algorithmConfig.value : undefined;
    const raw = (await Promise.all(spec.datasets.map((d) => loadPreferencePairs(d, { signal: ctx.signal })))).flat();
    if (raw.length === 0) throw Object.assign(new Error('spec.datasets: no preference pairs selected'), { grpcCode: 'INVALID_ARGUMENT' });
    const seed = Number(h?.seed || 42n);
    const model = resolveModel(spec.model, join(storeRoot, 'jobs', ctx.job.id), () => raw.flatMap((p) => [promptToDisplayText(p.prompt), p.chosen, p.rejected]), seed);
    const maxLength = h?.maxLength || Math.min(512, model.config.maxPositions);
    const pairs = raw.map((p) => {
      const [chosen, rejected] = pairToExamples(tokenizePreferencePair(model.tokenizer, p, { maxLength, maxPromptLength: h?.maxPromptLength || undefined }));
      return { chosen, rejected };
    });
    const reference = model.params.clone();
    const batchSize = h?.batchSize || 8;
    const steps = Number(h?.maxSteps ?? 0n) || Math.ceil(pairs.length / batchSize) * (h?.epochs || 1);
    ctx.job.progress = create(JobProgressSchema, { totalSteps: BigInt(steps) });
    ctx.save();
    await runPairwise({
      config: model.config,
      params: model.params,
      reference,
      pairs,
      beta: dpo?.beta || 0.1,
      loss: PAIR_LOSSES[dpo?.loss ?? 0] ?? 'logistic',
      padTokenId: model.tokenizer.padTokenId ?? model.tokenizer.eosTokenIds[0] ?? 0,
      batchSize,
      steps,
      learningRate: h?.learningRate || 5e-7,
      schedule: SCHEDULES[h?.lrSchedule ?? 0] ?? 'constant',
      warmupSteps: h?.warmupSteps ?? 0,
      weightDecay: h?.weightDecay ?? 0,
      maxGradNorm: h?.maxGradNorm ?? 1,
      seed,
      signal: ctx.signal,
      onStep: (step, metrics) => {
        ctx.job.progress!.step = BigInt(step);
        ctx.job.progress!.fraction = step / steps;
        ctx.job.latestMetrics = { ...ctx.job.latestMetrics, ...metrics };
        ctx.emit({ case: 'stepMetrics', value: { step: BigInt(step), metrics } });
        if (step % 10 === 0) ctx.save();
      },
    });
    await saveCheckpoint(ctx, store, model, steps, 'DPO');
  };
}
