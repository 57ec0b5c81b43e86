// IRFT (and SPIN = one stage): split the demonstrations into T parts; for each part, push the current
// policy to the generator, regenerate k negatives per prompt (samples_per_prompt; greedy by default, as
// the research code), freeze the stage-start policy as π_ref, and train on (demonstration ≻ own sample)
// for every one of the k samples, with the pairwise loss (+ α·SFT NLL of the demonstrations when
// sft_loss_coefficient > 0). Each sample is stamped with the weight version that produced it; every
// Generate call must be served by exactly the version just pushed, so negatives come from the current
// policy. max_steps caps the job's optimizer steps (the last stage it reaches is cut short).
//
// Durable: "push + generate" is one retried unit (a restarted generator has lost the pushed weights, so
// the push is redone), each retry is a job log line. Checkpoints mid-stage hold the stage's negatives and
// its frozen reference (so a resume neither regenerates nor needs the pruned stage-start checkpoint);
// the stage-end checkpoint holds neither (the next stage regenerates from those very weights).
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { runPairwise, type PairExample } from '@juice/algorithms';
import { tokenizeDemonstration, type DataCursor, type Demonstration, type TokenizedExample } from '@juice/data';
import type { LoadedModel } from '@juice/models';
import type { FlatOptimizer, OptimizerState, ParamSet } from '@juice/optim';
import { Algorithm, JobProgressSchema, ReferencePolicy, type SamplingParamsSchema } from '@juice/proto';
import { pushNextVersion } from '@juice/weight-sync';
import type { JobRunner, RunContext } from '../job-manager.js';
import { prepareJob } from '../pipeline/prepare.js';
import { reportStep } from '../pipeline/report.js';
import { resolveIrft } from '../settings/irft.js';
import { loraRequested } from '../settings/lora.js';
import { demonstrationEvaluator } from './held-out-eval.js';
import { jobLog } from './job-log.js';
import { lostState, unmet, unusableCheckpoint } from './job-error.js';
import { generatorPeer, roleEndpoints, type GeneratorPeer } from './peer-pools.js';
import { periodicPush } from './weight-pushes.js';
import { resolveWeightSync } from '../settings/weight-sync.js';
import { checkServedBase, type LoraJob } from './lora-job.js';
import { withRetry } from './retry.js';
import { tensorsOf } from './rft-peers.js';
import { demonstrationRows } from './sft-runner.js';
import { restoreBuffer, type StageSamples } from './trainer-state.js';

type Generator = GeneratorPeer;

/** How a stage's negatives are generated. */
interface NegativeSampling {
  sampling: MessageInitShape<typeof SamplingParamsSchema>;
  /** k: samples per prompt (Generate's n). */
  samplesPerPrompt: number;
  /** Prompts per Generate call (Generate takes 1..1024). */
  batchSize: number;
}

/**
 * Push the policy, then sample k negatives per prompt from exactly that version (one retried unit: a
 * restart between calls loses the pushed weights, so every chunk is redone from a fresh push).
 * responses[i·k + j] is sample j of part[i].
 */
async function negatives(ctx: RunContext, generator: Generator, model: LoadedModel, part: readonly TokenizedExample[], stage: number, stages: number, o: NegativeSampling, step: number, logger: string, lora?: LoraJob): Promise<StageSamples> {
  const k = o.samplesPerPrompt;
  return withRetry(
    `stage ${stage + 1}/${stages}: push policy + generate negatives`,
    async () => {
      // 1. The generator serves the current policy (re-pushed on every attempt).
      // LoRA: only the adapter travels (lora_adapter_only); the generator keeps its base and serves it by name.
      const pushed = lora
        ? await pushNextVersion(generator, lora.pushTensors(), { label: `${ctx.job.id}/stage${stage}`, header: lora.pushHeader })
        : await pushNextVersion(generator, tensorsOf(model.params, model.params.names), { label: `${ctx.job.id}/stage${stage}` });
      const version = pushed.version;
      ctx.emit({ case: 'weightsPushed', value: { target: 'generator', version, bytes: pushed.bytes, seconds: pushed.seconds, replicas: pushed.replicas } });
      // 2. k negatives per demonstration prompt, generation_batch_size prompts per call, all from that version.
      const g0 = Date.now();
      const responses: number[][] = [];
      let calls = 0;
      for (let i = 0; i < part.length; i += o.batchSize) {
        const chunk = part.slice(i, i + o.batchSize);
        // A fixed seed gives each sample index the same stream in every call; offset it per call so the
        // chunks do not repeat one another's randomness (one call keeps the job's seed as it was).
        const seed = o.sampling.seed;
        const sampling = seed === undefined ? o.sampling : { ...o.sampling, seed: BigInt(seed) + BigInt(i) };
        const res = await generator.generate({ prompts: chunk.map((e) => ({ kind: { case: 'tokens', value: { ids: e.promptIds } } })), n: k, sampling, minWeightVersion: version, ...(lora ? { adapter: lora.adapterName } : {}) });
        calls++;
        const by = res.weightVersion?.number ?? version;
        if (by !== version) throw new Error(`Generate was served by weight version ${by}, not the pushed ${version} (another client pushed weights?)`);
        if (res.results.length !== chunk.length) throw new Error(`Generate returned ${res.results.length} results for ${chunk.length} prompts`);
        for (const r of res.results) {
          const samples = [...r.samples].sort((a, b) => a.sampleIndex - b.sampleIndex);
          if (samples.length !== k) throw new Error(`Generate returned ${samples.length} samples for a prompt, asked for n = ${k}`);
          for (const x of samples) responses.push([...x.tokenIds]);
        }
      }
      ctx.emit({ case: 'stepMetrics', value: { step: BigInt(step), stage, metrics: { 'gen/seconds': (Date.now() - g0) / 1000, 'gen/weight_version': Number(version), 'gen/calls': calls, 'gen/samples': responses.length, 'gen/mean_length': responses.reduce((a, r) => a + r.length, 0) / Math.max(1, responses.length) } } });
      return { weightVersion: String(version), responses };
    },
    {
      // ~25-45 s of back-off in all: enough for a generator process to restart and reload its model.
      attempts: 10,
      signal: ctx.signal,
      onRetry: ({ what, attempt, delayMs, error }) =>
        jobLog(ctx, 'warn', logger, `${what} failed (${error.message}); retry ${attempt} in ${delayMs} ms`, { stage, attempt, delay_ms: delayMs, code: String((error as { code?: unknown }).code ?? '') }),
    },
  );
}

export function irftRunner(defaultGenerator?: string | readonly string[]): JobRunner {
  return async (ctx) => {
    const spec = ctx.job.spec!;
    // Every address is one replica of the generator pool (issue #13).
    const addresses = roleEndpoints(spec.endpoints?.generator, defaultGenerator);
    if (!addresses.length) throw unmet('IRFT needs a generator: set spec.endpoints.generator or start the trainer with --generator');
    // IrftConfig.reference INITIAL: the job's initial model is π_ref of every stage (kept before a resume
    // restores the checkpoint's weights); STAGE_START (default): each stage's starting policy.
    let initialReference: ParamSet | undefined;
    const job = await prepareJob(ctx, {
      algorithm: spec.algorithm === Algorithm.SPIN ? 'SPIN' : 'IRFT',
      ...demonstrationRows,
      // LoRA + INITIAL: π_ref is the base itself (adapters disabled), so nothing is kept.
      beforeRestore: (m) => void (spec.algorithmConfig.case === 'irft' && spec.algorithmConfig.value.reference === ReferencePolicy.INITIAL && !loraRequested(spec) && (initialReference = m.params.clone())),
    });
    const { model, restored, logger, seed, padTokenId, lora } = job;
    const initialIsBase = lora !== undefined && spec.algorithmConfig.case === 'irft' && spec.algorithmConfig.value.reference === ReferencePolicy.INITIAL;
    const tokenize = (d: Demonstration) => tokenizeDemonstration(model.tokenizer, d, job.limits);
    const examples = job.rows.map(tokenize);
    const s = resolveIrft(spec, { rows: examples.length, maxLength: job.limits.maxLength, longestPrompt: Math.max(...examples.map((e) => e.promptIds.length)) });
    const { stages, perStage, stepsPerStage, plannedSteps, totalSteps, maxSteps, batchSize } = s;
    const k = s.samplesPerPrompt;
    const negativeSampling: NegativeSampling = { sampling: s.sampling, samplesPerPrompt: k, batchSize: s.generationBatchSize };
    if (k > 1 && s.sampling.temperature === 0) jobLog(ctx, 'warn', logger, `samples_per_prompt ${k} with greedy decoding (temperature 0): the ${k} samples of a prompt are identical`, { samples_per_prompt: k });
    const evaluator = job.evalRows.length ? await demonstrationEvaluator({ config: model.config, params: model.params, examples: job.evalRows.map(tokenize), padTokenId, batchSize }) : undefined;
    const points = job.points(evaluator);

    // Where this attempt starts: a stage-end checkpoint continues with the next stage (fresh negatives);
    // a mid-stage one continues that stage with its stored negatives, reference, cursor and step.
    let firstStage = 0;
    let resumeInStage: { stageStep: number; cursor: DataCursor; samples: StageSamples } | undefined;
    let optimizerState: OptimizerState | undefined = restored?.optimizers.policy;
    let step = restored?.state.step ?? 0;
    if (restored) {
      const st = restored.state;
      if (st.stageStep >= stepsPerStage) firstStage = st.stage + 1;
      else if (st.stageSamplesReady && restored.stageSamples) {
        firstStage = st.stage;
        resumeInStage = { stageStep: st.stageStep, cursor: st.cursor, samples: restored.stageSamples };
      } else firstStage = st.stage; // checkpointed before this stage generated (at_start): start it afresh
    }
    ctx.job.progress = create(JobProgressSchema, { totalSteps: BigInt(totalSteps), totalStages: stages, step: BigInt(step), stage: firstStage, fraction: step / totalSteps });
    ctx.save();

    // Reconnects within ~2 s of a replica coming back; withRetry's own back-off already paces the calls.
    const sync = resolveWeightSync(spec);
    const generator = await generatorPeer(ctx, addresses, logger, (spec.endpoints?.callTimeoutSeconds || 600) * 1000, sync.push);
    const periodic = periodicPush(ctx, generator, sync.everyNSteps, () => (lora ? lora.pushTensors() : tensorsOf(model.params, model.params.names)), logger, lora?.pushHeader);
    let optimizer: FlatOptimizer | undefined;
    try {
      if (lora) await checkServedBase(generator.pool, model);
      if (!restored) await points.atStart({ step: 0, epoch: 0, stage: 0, stageStep: 0, cursor: { epoch: 0, rowsConsumed: 0, shuffleSeed: seed }, optimizers: () => ({}) });
      if (restored && step >= totalSteps) jobLog(ctx, 'info', logger, `checkpoint is at step ${step}, the job's ${totalSteps} steps are done: nothing left to train`, { step, total_steps: totalSteps });
      for (let stage = firstStage; stage < stages; stage++) {
        ctx.signal.throwIfAborted();
        // Checked before generating: a stage that would train no step must not cost a push + generate.
        if (step >= totalSteps) {
          if (totalSteps < plannedSteps) jobLog(ctx, 'info', logger, `max_steps ${maxSteps} reached at step ${step}: stages ${stage + 1}..${stages} not run`, { step, stage });
          break;
        }
        const part = examples.slice(stage * perStage, (stage + 1) * perStage);
        if (part.length === 0) break;
        const here = resumeInStage;
        resumeInStage = undefined;
        const samples = here?.samples ?? (await negatives(ctx, generator, model, part, stage, stages, negativeSampling, step, logger, lora));
        if (samples.responses.length !== part.length * k) throw unusableCheckpoint(`stage ${stage}: checkpoint holds ${samples.responses.length} negatives, the stage needs ${part.length} demonstrations × ${k} samples_per_prompt = ${part.length * k} (were the datasets or samples_per_prompt changed?)`);
        // Demonstration i with each of its k samples (responses[i·k + j]).
        const pairs: PairExample[] = part.flatMap((e, i) => Array.from({ length: k }, (_, j) => ({ chosen: e, rejected: { promptIds: e.promptIds, responseIds: samples.responses[i * k + j]!, truncated: false } })));
        // π_ref = the stage's starting policy; restored from the checkpoint when resuming mid-stage.
        // LoRA: the stage-start adapters (on the shared base), or none for INITIAL (the base, adapters off).
        const reference: ParamSet | undefined = initialIsBase ? undefined : (initialReference ?? (lora ? lora.adapters.clone() : model.params.clone()));
        const keepsReference = reference !== undefined && !initialReference;
        if (here && keepsReference && !restoreBuffer(reference, restored!, 'reference')) throw lostState(`checkpoint v${restored!.checkpoint.version} resumes mid-stage but holds no reference policy`);
        const stageStart = step - (here?.stageStep ?? 0);
        // The schedule spans the whole job's planned steps: a capped stage is a prefix of the uncapped one.
        const stopAfter = Math.min(stepsPerStage, totalSteps - stageStart);
        const out = await runPairwise({
          config: model.config,
          params: lora?.adapters ?? model.params,
          reference,
          lora: lora?.training,
          pairs,
          beta: s.beta,
          loss: s.loss,
          padTokenId,
          batchSize,
          steps: stepsPerStage,
          stopAfter,
          sftCoefficient: s.sftCoefficient,
          learningRate: s.learningRate,
          // One schedule over the whole job (trainer.proto): stage s continues where stage s−1 left it.
          schedule: s.schedule,
          warmupSteps: s.warmupSteps,
          minLrRatio: s.minLrRatio,
          scheduleSteps: plannedSteps,
          scheduleStart: stage * stepsPerStage,
          optimizerSettings: s.optimizerSettings,
          gradientAccumulationSteps: s.gradientAccumulationSteps,
          maxGradNorm: s.maxGradNorm,
          seed: seed + stage,
          noShuffle: s.noShuffle,
          signal: ctx.signal,
          optimizer,
          optimizerState,
          startStep: here?.stageStep ?? 0,
          cursor: here?.cursor,
          onStep: (at, metrics) => reportStep(ctx, stageStart + at, metrics, { totalSteps, stage }),
          afterStep: async (at) => {
            // weight_sync.every_n_steps, except at a stage's end when the next stage pushes these very weights.
            if (!(at.step === stepsPerStage && stage + 1 < stages)) await periodic.after(stageStart + at.step);
            // A stage cut short by max_steps saves its negatives and reference like any mid-stage point,
            // so a ResumeJob that raises max_steps continues the stage instead of regenerating.
            const stageEnd = at.step === stepsPerStage;
            return points.after(
              {
                step: stageStart + at.step,
                epoch: at.epoch,
                stage,
                stageStep: at.step,
                cursor: at.cursor,
                optimizers: () => ({ policy: at.optimizer.state() }),
                // Mid-stage only: what the rest of the stage needs and cannot recompute.
                buffers: stageEnd || !keepsReference ? undefined : () => ({ reference: reference!.data }),
                stageSamples: stageEnd ? undefined : samples,
                rngExtra: { stageShuffleSeed: seed + stage },
              },
              { boundary: at.last, stopping: at.stopping && !ctx.skipCheckpointOnStop?.() },
            );
          },
        });
        optimizer = out.optimizer;
        optimizerState = undefined;
        step = stageStart + stopAfter;
        ctx.save();
        if (stopAfter === stepsPerStage && stage + 1 < stages) jobLog(ctx, 'info', logger, `stage ${stage + 1}/${stages} done at step ${step}`, { stage, step });
      }
    } finally {
      generator.close();
      await evaluator?.release();
    }
  };
}
