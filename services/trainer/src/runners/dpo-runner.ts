// The DPO job: preference pairs (prompt, chosen, rejected), π_ref the frozen initial model, the pairwise
// loss of the job's DpoConfig, with checkpoints (weights + trainer state), held-out pairwise loss on
// eval_datasets (eval/loss) and bit-identical resume. (IRFT uses the same loop with its own negatives.)
// On resume the reference is the initial model again: it is kept before the checkpoint's weights are
// restored (prepareJob's beforeRestore).
import { create } from '@bufbuild/protobuf';
import { runPairwise, type PairExample } from '@juice/algorithms';
import { loadPreferencePairs, pairToExamples, promptToDisplayText, tokenizePreferencePair, type PreferencePair } from '@juice/data';
import type { ParamSet } from '@juice/optim';
import { JobProgressSchema } from '@juice/proto';
import { namedTensors } from '@juice/weight-sync';
import type { JobRunner } from '../job-manager.js';
import { prepareJob } from '../pipeline/prepare.js';
import { reportStep } from '../pipeline/report.js';
import { resolveDpo } from '../settings/dpo.js';
import { loraRequested } from '../settings/lora.js';
import { pairEvaluator } from './held-out-eval.js';
import { loopAfterStep, loopResume } from './loop-points.js';
import { checkServedBase } from './lora-job.js';
import { openPolicySync, withPeriodicPush } from './weight-pushes.js';

export const preferenceRows = {
  load: loadPreferencePairs,
  corpus: (rows: readonly PreferencePair[]) => rows.flatMap((p) => [promptToDisplayText(p.prompt), p.chosen, p.rejected]),
  empty: 'no preference pairs selected',
};

/** A preference pair as the loops take it (prompt + chosen, prompt + rejected), truncated alike. */
export function tokenizePairs(tokenizer: Parameters<typeof tokenizePreferencePair>[0], limits: Parameters<typeof tokenizePreferencePair>[2]) {
  return (p: PreferencePair): PairExample => {
    const [chosen, rejected] = pairToExamples(tokenizePreferencePair(tokenizer, p, limits));
    return { chosen, rejected };
  };
}

export function dpoRunner(): JobRunner {
  return async (ctx) => {
    let reference: ParamSet | undefined;
    // LoRA: π_ref is the base itself (the adapters disabled in the same session), never a copy.
    const job = await prepareJob(ctx, { algorithm: 'DPO', ...preferenceRows, beforeRestore: (m) => void (reference = loraRequested(ctx.job.spec!) ? m.params : m.params.clone()) });
    const { model, restored, lora } = job;
    const toPair = tokenizePairs(model.tokenizer, job.limits);
    const pairs = job.rows.map(toPair);
    const s = resolveDpo(job.spec, { rows: pairs.length });
    const evaluator = job.evalRows.length ? await pairEvaluator({ config: model.config, params: model.params, reference: reference!, pairs: job.evalRows.map(toPair), beta: s.beta, loss: s.loss, padTokenId: job.padTokenId, batchSize: s.batchSize }) : undefined;
    const points = job.points(evaluator);
    const startStep = restored?.state.step ?? 0;
    ctx.job.progress = create(JobProgressSchema, { totalSteps: BigInt(s.totalSteps), step: BigInt(startStep), fraction: startStep / s.totalSteps });
    ctx.save();
    // weight_sync.every_n_steps: spec.endpoints.generator serves the policy as it trains.
    // LoRA: the adapter alone (PushOptions.header), to a generator serving the job's base.
    const policySync = await openPolicySync(ctx, () => (lora ? lora.pushTensors() : namedTensors(model.params, model.params.names)), job.logger, lora && { header: lora.pushHeader, checkBase: (pool) => checkServedBase(pool, model) });
    try {
      if (!restored) await points.atStart({ step: 0, epoch: 0, stage: 0, stageStep: 0, cursor: { epoch: 0, rowsConsumed: 0, shuffleSeed: s.seed }, optimizers: () => ({}) });
      await runPairwise({
        ...s,
        config: model.config,
        params: lora?.adapters ?? model.params,
        // LoRA: no reference weights (lora_enabled = 0 on the trained session's base).
        reference: lora ? undefined : reference!,
        lora: lora?.training,
        pairs,
        padTokenId: job.padTokenId,
        steps: s.totalSteps,
        signal: ctx.signal,
        ...loopResume(restored, pairs.length),
        onStep: (step, metrics) => reportStep(ctx, step, metrics, { totalSteps: s.totalSteps }),
        afterStep: withPeriodicPush(policySync, loopAfterStep(ctx, points)),
      });
    } finally {
      policySync.close();
      await evaluator?.release();
    }
  };
}
