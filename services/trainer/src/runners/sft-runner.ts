// The SFT job: demonstrations → tokenized examples → runSft, with checkpoints (weights + trainer state)
// every CheckpointConfig.every_n_steps and at epoch ends, held-out NLL (eval/loss) on eval_datasets, and
// resume: a job restarted from a checkpoint continues bit-identically (weights, optimizer state, data cursor).
import { create } from '@bufbuild/protobuf';
import { runSft } from '@juice/algorithms';
import { loadDemonstrations, promptToDisplayText, tokenizeDemonstration, type Demonstration } from '@juice/data';
import { JobProgressSchema } from '@juice/proto';
import { namedTensors } from '@juice/weight-sync';
import type { JobRunner } from '../job-manager.js';
import { prepareJob } from '../pipeline/prepare.js';
import { reportStep } from '../pipeline/report.js';
import { resolveSft } from '../settings/sft.js';
import { demonstrationEvaluator } from './held-out-eval.js';
import { loopResume, loopAfterStep } from './loop-points.js';
import { checkServedBase } from './lora-job.js';
import { openPolicySync, withPeriodicPush } from './weight-pushes.js';

export const demonstrationRows = {
  load: loadDemonstrations,
  corpus: (rows: readonly Demonstration[]) => rows.map((d) => `${promptToDisplayText(d.prompt)}\n${d.response}`),
  empty: 'no demonstrations selected (check split and max_rows)',
};

export function sftRunner(): JobRunner {
  return async (ctx) => {
    const job = await prepareJob(ctx, { algorithm: 'SFT', ...demonstrationRows });
    const { model, restored, lora } = job;
    const tokenize = (d: Demonstration) => tokenizeDemonstration(model.tokenizer, d, job.limits);
    const examples = job.rows.map(tokenize);
    const s = resolveSft(job.spec, { rows: examples.length });
    const evaluator = job.evalRows.length ? await demonstrationEvaluator({ config: model.config, params: model.params, examples: job.evalRows.map(tokenize), padTokenId: job.padTokenId, batchSize: s.batchSize }) : undefined;
    const points = job.points(evaluator);
    const startStep = restored?.state.step ?? 0;
    let tokens = BigInt(restored?.state.tokens ?? '0');
    ctx.job.progress = create(JobProgressSchema, { totalSteps: BigInt(s.totalSteps), totalEpochs: s.epochs, step: BigInt(startStep), fraction: startStep / s.totalSteps, tokens });
    ctx.save();
    // weight_sync.every_n_steps: spec.endpoints.generator serves the policy as it trains.
    // LoRA: the adapter alone (PushOptions.header), to a generator serving the job's base.
    const policySync = await openPolicySync(ctx, () => (lora ? lora.pushTensors() : namedTensors(model.params, model.params.names)), job.logger, lora && { header: lora.pushHeader, checkBase: (pool) => checkServedBase(pool, model) });
    try {
      if (!restored) await points.atStart({ step: 0, epoch: 0, stage: 0, stageStep: 0, cursor: { epoch: 0, rowsConsumed: 0, shuffleSeed: s.seed }, optimizers: () => ({}), tokens });
      await runSft({
        ...s,
        config: model.config,
        // LoRA: the adapters train on the frozen base (job.lora); else every weight of the model.
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
