// IRFT (and SPIN = one stage): split the demonstrations into T parts; for each part, push the current
// policy to the generator, regenerate one negative per prompt (greedy by default, as the research code),
// freeze the stage-start policy as π_ref, and train on (demonstration ≻ own sample) with the pairwise
// loss. Each sample is stamped with the weight version that produced it; the job asks the generator for
// at least the version it just pushed, so negatives always come from the current policy.
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { runPairwise, type PairExample } from '@juice/algorithms';
import { CheckpointStore } from '@juice/checkpoint';
import { loadDemonstrations, promptToDisplayText, tokenizeDemonstration } from '@juice/data';
import type { AdamW } from '@juice/optim';
import { Algorithm, GeneratorService, JobProgressSchema } from '@juice/proto';
import { createClient, failedPrecondition } from '@juice/service-kit';
import { weightChunks } from '@juice/weight-sync';
import type { JobRunner } from '../job-manager.js';
import { resolveModel } from './model-source.js';
import { saveCheckpoint } from './save-checkpoint.js';
import { PAIR_LOSSES, SCHEDULES } from './enums.js';

export function irftRunner(storeRoot: string, defaultGenerator?: string): JobRunner {
  const store = CheckpointStore.open(join(storeRoot, 'checkpoints'));
  return async (ctx) => {
    const spec = ctx.job.spec!;
    const h = spec.hyperparameters;
    const ir = spec.algorithmConfig.case === 'irft' ? spec.algorithmConfig.value : undefined;
    const address = spec.endpoints?.generator[0] || defaultGenerator;
    if (!address) throw failedPrecondition('IRFT needs a generator: set spec.endpoints.generator or start the trainer with --generator');
    const demos = (await Promise.all(spec.datasets.map((d) => loadDemonstrations(d, { signal: ctx.signal })))).flat();
    const seed = Number(h?.seed || 42n);
    const model = resolveModel(spec.model, join(storeRoot, 'jobs', ctx.job.id), () => demos.map((d) => `${promptToDisplayText(d.prompt)}\n${d.response}`), seed);
    const maxLength = h?.maxLength || Math.min(512, model.config.maxPositions);
    const examples = demos.map((d) => tokenizeDemonstration(model.tokenizer, d, { maxLength, maxPromptLength: h?.maxPromptLength || undefined }));
    const stages = spec.algorithm === Algorithm.SPIN ? 1 : ir?.stages || 5;
    const perStage = Math.ceil(examples.length / stages);
    const batchSize = h?.batchSize || 8;
    const stepsPerStage = Number(ir?.stepsPerStage ?? 0n) || Math.ceil(perStage / batchSize) * (ir?.epochsPerStage || 1);
    const maxNew = ir?.generation?.maxNewTokens || Math.max(1, maxLength - Math.max(...examples.map((e) => e.promptIds.length)));
    ctx.job.progress = create(JobProgressSchema, { totalSteps: BigInt(stages * stepsPerStage), totalStages: stages });
    ctx.save();

    const generator = createClient(GeneratorService, address, { defaultDeadlineMs: (spec.endpoints?.callTimeoutSeconds || 600) * 1000 });
    let optimizer: AdamW | undefined;
    let step = 0;
    try {
      for (let stage = 0; stage < stages; stage++) {
        ctx.signal.throwIfAborted();
        const part = examples.slice(stage * perStage, (stage + 1) * perStage);
        if (part.length === 0) break;
        // 1. The generator serves the current policy.
        const served = (await generator.getWeightVersion({})).active?.number ?? 0n;
        const version = served + 1n;
        const t0 = Date.now();
        const tensors = new Map(model.params.entries.map((e) => [e.name, { shape: e.shape, data: model.params.view(e.name) }]));
        const pushed = await generator.pushWeights(weightChunks(tensors, { version, label: `${ctx.job.id}/stage${stage}` }));
        ctx.emit({ case: 'weightsPushed', value: { target: 'generator', version, bytes: pushed.bytes, seconds: (Date.now() - t0) / 1000, replicas: 1 } });
        // 2. One negative per demonstration prompt, from exactly that version.
        const g0 = Date.now();
        const sampling = ir?.generation ?? { temperature: 0, maxNewTokens: maxNew };
        const res = await generator.generate({
          prompts: part.map((e) => ({ kind: { case: 'tokens', value: { ids: e.promptIds } } })),
          sampling: { ...sampling, maxNewTokens: sampling.maxNewTokens || maxNew },
          minWeightVersion: version,
        });
        const pairs: PairExample[] = part.map((e, i) => ({ chosen: e, rejected: { promptIds: e.promptIds, responseIds: res.results[i]!.samples[0]!.tokenIds, truncated: false } }));
        ctx.emit({ case: 'stepMetrics', value: { step: BigInt(step), stage, metrics: { 'gen/seconds': (Date.now() - g0) / 1000, 'gen/weight_version': Number(res.weightVersion?.number ?? 0n), 'gen/mean_length': pairs.reduce((a, p) => a + p.rejected.responseIds.length, 0) / pairs.length } } });
        // 3. π_ref = the stage's starting policy; train on (demonstration ≻ sample).
        const reference = model.params.clone();
        const out = await runPairwise({
          config: model.config,
          params: model.params,
          reference,
          pairs,
          beta: ir?.beta || 0.1,
          loss: PAIR_LOSSES[ir?.loss ?? 0] ?? 'logistic',
          padTokenId: model.tokenizer.padTokenId ?? model.tokenizer.eosTokenIds[0] ?? 0,
          batchSize,
          steps: stepsPerStage,
          learningRate: h?.learningRate || 5e-7,
          schedule: SCHEDULES[h?.lrSchedule ?? 0] ?? 'constant',
          weightDecay: h?.weightDecay ?? 0,
          maxGradNorm: h?.maxGradNorm ?? 1,
          seed: seed + stage,
          signal: ctx.signal,
          optimizer,
          onStep: (s, metrics) => {
            const global = step + s;
            ctx.job.progress!.step = BigInt(global);
            ctx.job.progress!.stage = stage;
            ctx.job.progress!.fraction = global / (stages * stepsPerStage);
            ctx.job.latestMetrics = { ...ctx.job.latestMetrics, ...metrics };
            ctx.emit({ case: 'stepMetrics', value: { step: BigInt(global), stage, metrics } });
          },
        });
        optimizer = out.optimizer;
        step += stepsPerStage;
        ctx.save();
      }
    } finally {
      generator.close();
    }
    await saveCheckpoint(ctx, store, model, step, spec.algorithm === Algorithm.SPIN ? 'SPIN' : 'IRFT');
  };
}
