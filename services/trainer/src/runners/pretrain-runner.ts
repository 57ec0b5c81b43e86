// The PRETRAIN job: TEXT documents → packed max_length windows (libs/data pack-text.ts: each document
// then EOS, concatenated, cut into windows) → the SFT step loop with every token after a window's first
// as a target. Everything else is the SFT job's: checkpoints every CheckpointConfig.every_n_steps and at
// epoch ends, held-out eval/loss on eval_datasets (TEXT, packed the same way), bit-identical resume, the
// embedded default model with its tokenizer trained on the documents, LoRA and periodic pushes.
import { create } from '@bufbuild/protobuf';
import { runSft } from '@juice/algorithms';
import { loadTexts, packDocuments } from '@juice/data';
import { JobProgressSchema } from '@juice/proto';
import { namedTensors } from '@juice/weight-sync';
import type { JobRunner } from '../job-manager.js';
import { prepareJob } from '../pipeline/prepare.js';
import { reportStep } from '../pipeline/report.js';
import { resolvePretrain } from '../settings/pretrain.js';
import { demonstrationEvaluator } from './held-out-eval.js';
import { badSpec } from './job-error.js';
import { loopAfterStep, loopResume } from './loop-points.js';
import { openPolicySync, withPeriodicPush } from './weight-pushes.js';

export const textRows = {
  load: loadTexts,
  corpus: (rows: readonly string[]) => [...rows],
  empty: 'no documents selected (check split and max_rows)',
};

export function pretrainRunner(): JobRunner {
  return async (ctx) => {
    const job = await prepareJob(ctx, { algorithm: 'PRETRAIN', ...textRows });
    const { model, restored, lora } = job;
    // The packing is a function of the documents, tokenizer and max_length only, so a resumed job
    // rebuilds the same windows and its data cursor points at the same rows.
    const examples = packDocuments(model.tokenizer, job.rows, job.limits.maxLength);
    if (examples.length === 0) throw badSpec('spec.datasets', 'the documents pack into no window of 2 or more tokens (they are empty)');
    const evalWindows = job.evalRows.length ? packDocuments(model.tokenizer, job.evalRows, job.limits.maxLength) : [];
    const s = resolvePretrain(job.spec, { windows: examples.length });
    const evaluator = evalWindows.length ? await demonstrationEvaluator({ config: model.config, params: model.params, examples: evalWindows, padTokenId: job.padTokenId, batchSize: s.batchSize }) : undefined;
    const points = job.points(evaluator);
    const startStep = restored?.state.step ?? 0;
    let tokens = BigInt(restored?.state.tokens ?? '0');
    ctx.job.progress = create(JobProgressSchema, { totalSteps: BigInt(s.totalSteps), totalEpochs: s.epochs, step: BigInt(startStep), fraction: startStep / s.totalSteps, tokens });
    ctx.save();
    const policySync = await openPolicySync(ctx, () => namedTensors(model.params, model.params.names), job.logger);
    try {
      if (!restored) await points.atStart({ step: 0, epoch: 0, stage: 0, stageStep: 0, cursor: { epoch: 0, rowsConsumed: 0, shuffleSeed: s.seed }, optimizers: () => ({}), tokens });
      await runSft({
        ...s,
        config: model.config,
        params: lora?.adapters ?? model.params,
        lora: lora?.training,
        examples,
        padTokenId: job.padTokenId,
        signal: ctx.signal,
        ...loopResume(restored, examples.length),
        onStep: (step, metrics, at) => {
          tokens += BigInt(Math.round(metrics.tokens_per_second! * metrics.step_seconds!));
          reportStep(ctx, step, metrics, { totalSteps: s.totalSteps, epoch: at.epoch, tokens });
        },
        afterStep: withPeriodicPush(policySync, loopAfterStep(ctx, points, () => ({ tokens }))),
      });
    } finally {
      policySync.close();
      await evaluator?.release();
    }
  };
}
