// The DPO job: preference pairs (prompt, chosen, rejected), π_ref the frozen initial model, the pairwise
// loss of the job's DpoConfig, with checkpoints (weights + trainer state), held-out pairwise loss on
// eval_datasets (eval/loss) and bit-identical resume. (IRFT uses the same loop with its own negatives.)
// On resume the reference is the initial model again: the job's base model is read from its own
// directory (or the HF directory the spec names) before the checkpoint's weights are restored.
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { runPairwise } from '@juice/algorithms';
import { CheckpointStore } from '@juice/checkpoint';
import { loadPreferencePairs, pairToExamples, promptToDisplayText, tokenizePreferencePair } from '@juice/data';
import { JobProgressSchema } from '@juice/proto';
import type { JobRunner } from '../job-manager.js';
import { rowsPerStep, truncation } from './hyperparameters.js';
import { resolveModel } from './model-source.js';
import { PAIR_LOSSES } from './enums.js';
import { pairEvaluator } from './held-out-eval.js';
import { JobPoints } from './job-points.js';
import { resumePoint } from './resume-point.js';
import { singlePassAfterStep, singlePassOptions } from './single-pass.js';
import { restoreWeights } from './trainer-state.js';
import { badSpec } from './job-error.js';

export function dpoRunner(storeRoot: string): JobRunner {
  const store = CheckpointStore.open(join(storeRoot, 'checkpoints'));
  return async (ctx) => {
    const spec = ctx.job.spec!;
    const h = spec.hyperparameters;
    const dpo = spec.algorithmConfig.case === 'dpo' ? spec.algorithmConfig.value : undefined;
    const raw = (await Promise.all(spec.datasets.map((d) => loadPreferencePairs(d, { signal: ctx.signal })))).flat();
    if (raw.length === 0) throw badSpec('spec.datasets', 'no preference pairs selected');
    const seed = Number(h?.seed || 42n);
    const model = resolveModel(spec.model, join(storeRoot, 'jobs', ctx.job.id), () => raw.flatMap((p) => [promptToDisplayText(p.prompt), p.chosen, p.rejected]), seed, storeRoot);
    const limits = truncation(h, model.config.maxPositions);
    const toPair = (p: (typeof raw)[number]) => {
      const [chosen, rejected] = pairToExamples(tokenizePreferencePair(model.tokenizer, p, limits));
      return { chosen, rejected };
    };
    const pairs = raw.map(toPair);
    const reference = model.params.clone();
    const restored = resumePoint(ctx, store, 'DPO', 'trainer.dpo');
    if (restored) restoreWeights(model.params, restored.checkpoint);
    const batchSize = h?.batchSize || 8;
    const steps = Number(h?.maxSteps ?? 0n) || Math.ceil(pairs.length / rowsPerStep(h)) * (h?.epochs || 1);
    const startStep = restored?.state.step ?? 0;
    const beta = dpo?.beta || 0.1;
    const loss = PAIR_LOSSES[dpo?.loss ?? 0] ?? 'logistic';
    const padTokenId = model.tokenizer.padTokenId ?? model.tokenizer.eosTokenIds[0] ?? 0;
    const evalPairs = (await Promise.all(spec.evalDatasets.map((d) => loadPreferencePairs(d, { signal: ctx.signal })))).flat().map(toPair);
    const evaluator = evalPairs.length ? await pairEvaluator({ config: model.config, params: model.params, reference, pairs: evalPairs, beta, loss, padTokenId, batchSize }) : undefined;
    const points = new JobPoints(ctx, { store, model, algorithm: 'DPO', seed, shuffle: !h?.noShuffle, evaluator, best: restored?.state.best });
    ctx.job.progress = create(JobProgressSchema, { totalSteps: BigInt(steps), step: BigInt(startStep), fraction: startStep / steps });
    ctx.save();
    try {
      if (!restored) await points.atStart({ step: 0, epoch: 0, stage: 0, stageStep: 0, cursor: { epoch: 0, rowsConsumed: 0, shuffleSeed: seed }, optimizers: () => ({}) });
      await runPairwise({
        config: model.config,
        params: model.params,
        reference,
        pairs,
        beta,
        loss,
        padTokenId,
        batchSize,
        steps,
        ...singlePassOptions(ctx, h, restored, pairs.length, 5e-7, seed, steps),
        onStep: (step, metrics) => {
          ctx.job.progress!.step = BigInt(step);
          ctx.job.progress!.fraction = step / steps;
          ctx.job.latestMetrics = { ...ctx.job.latestMetrics, ...metrics };
          ctx.emit({ case: 'stepMetrics', value: { step: BigInt(step), metrics } });
          if (step % 10 === 0) ctx.save();
        },
        afterStep: singlePassAfterStep(ctx, points),
      });
    } finally {
      await evaluator?.release();
    }
  };
}
