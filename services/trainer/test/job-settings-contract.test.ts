// "Accept only what you honour", per JobSpec field, through the Trainer service in process: for each field
// set to a non-default value, either StartJob refuses it (UNIMPLEMENTED or INVALID_ARGUMENT, the message
// naming the field), or the job's step metrics (loss, lr, grad_norm per step) differ from the same job
// with the field at its default. A tiny Llama (1 layer, D 32) and 3-step SFT jobs keep it fast.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { createDefaultModel, DEFAULT_MODEL_CONFIG } from '@juice/models';
import { Algorithm, DataSchema, GeneratorService, JobSpecSchema, JobState, LossReduction, LrSchedule, Optimizer, ReferencePolicy, StartJobRequestSchema, StartJobResponseSchema, TrainingHyperparametersSchema, type Job } from '@juice/proto';
import { JobManager } from '../src/job-manager.js';
import { JobStore } from '../src/job-store.js';
import { sftRunner } from '../src/runners/sft-runner.js';
import { createTrainerService } from '../src/trainer-service.js';
import { createLogger, defineService, startServer } from '@juice/service-kit';
import { ModelHost } from '../../generator/src/model-host.js';
import { createGeneratorService } from '../../generator/src/generator-service.js';

type Spec = Extract<MessageInitShape<typeof JobSpecSchema>, { $typeName?: undefined }>;
// The plain-object form of TrainingHyperparameters (not the message type), so rows can spread and merge.
type Hyper = Extract<MessageInitShape<typeof TrainingHyperparametersSchema>, { $typeName?: undefined }>;

const root = mkdtempSync(join(tmpdir(), 'juice-settings-'));
const quiet = { info() {}, warn() {}, error() {} };
const modelDir = join(root, 'model');
const data = join(root, 'demos.jsonl');
const prefs = join(root, 'prefs.jsonl');
const rows = Array.from({ length: 12 }, (_, i) => ({ prompt: `Add ${i} and ${i + 3}, then say the sum in words please:`, completion: ` ${2 * i + 3}` }));
let manager: JobManager;
let svc: ReturnType<typeof createTrainerService>;
const ctx = { signal: new AbortController().signal } as Parameters<NonNullable<ReturnType<typeof createTrainerService>['startJob']>>[1];

before(() => {
  writeFileSync(data, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  writeFileSync(prefs, rows.map((r) => JSON.stringify({ prompt: r.prompt, chosen: r.completion, rejected: ' 0' })).join('\n') + '\n');
  const config = { ...DEFAULT_MODEL_CONFIG, hiddenSize: 32, intermediateSize: 64, numLayers: 1, numHeads: 2, numKvHeads: 1, headDim: 16 };
  createDefaultModel(modelDir, { corpus: rows.map((r) => r.prompt + r.completion), seed: 3, config });
  manager = new JobManager(new JobStore(root), { [Algorithm.SFT]: sftRunner() }, quiet);
  svc = createTrainerService(manager);
});
after(async () => {
  await manager.stopAll();
});

const BASE_HYPER: Hyper = { maxSteps: 3n, batchSize: 4, learningRate: 1e-2, maxGradNorm: 0 };
function sftSpec(h: Partial<Hyper> = {}, rest: Partial<Spec> = {}): Spec {
  return { algorithm: Algorithm.SFT, model: { kind: { case: 'hfDir', value: modelDir } }, datasets: [{ path: data, schema: DataSchema.PROMPT_COMPLETION }], hyperparameters: { ...BASE_HYPER, ...h }, ...rest };
}

async function startJob(spec: Spec, validateOnly = false) {
  return create(StartJobResponseSchema, await svc.startJob!(create(StartJobRequestSchema, { spec, validateOnly }), ctx)).job!;
}

/** Runs the job to its end; its per-step (loss, lr, grad_norm) and step count. */
async function metricsOf(spec: Spec): Promise<number[][]> {
  const job = await startJob(spec);
  const steps: number[][] = [];
  for await (const e of manager.watch(manager.get(job.id)!, { fromBeginning: true, afterSequence: 0n, omitLogs: true, signal: new AbortController().signal })) {
    if (e.event.case === 'stepMetrics' && e.event.value.metrics.loss !== undefined) {
      const m = e.event.value.metrics;
      steps.push([m.loss!, m.lr!, m.grad_norm ?? NaN]);
    }
  }
  const done: Job = manager.get(job.id)!;
  assert.equal(done.state, JobState.SUCCEEDED, done.error?.message);
  return steps;
}

const differs = (a: number[][], b: number[][]) => a.length !== b.length || a.some((row, i) => row.some((x, j) => !(Math.abs(x - b[i]![j]!) <= 1e-7 || (Number.isNaN(x) && Number.isNaN(b[i]![j]!)))));

// Fields honoured by the SFT job: set alone (or with what makes them meaningful, in both runs).
const HONOURED: { field: string; set: Partial<Hyper>; base?: Partial<Hyper>; rest?: Partial<Spec> }[] = [
  { field: 'learning_rate', set: { learningRate: 3e-3 } },
  { field: 'lr_schedule', set: { lrSchedule: LrSchedule.LINEAR } },
  { field: 'warmup_steps', set: { warmupSteps: 2 } },
  { field: 'warmup_ratio', set: { warmupRatio: 0.5 } },
  { field: 'min_lr_ratio', set: { minLrRatio: 0.5 }, base: { lrSchedule: LrSchedule.LINEAR } },
  { field: 'epochs', set: { epochs: 2 }, base: { maxSteps: 0n, batchSize: 6 } },
  { field: 'max_steps', set: { maxSteps: 2n } },
  { field: 'batch_size', set: { batchSize: 3 } },
  { field: 'gradient_accumulation_steps', set: { gradientAccumulationSteps: 2 } },
  { field: 'max_length', set: { maxLength: 12 } },
  { field: 'max_prompt_length', set: { maxPromptLength: 4 } },
  { field: 'weight_decay', set: { weightDecay: 0.5 } },
  { field: 'max_grad_norm', set: { maxGradNorm: 0.5 } },
  { field: 'optimizer', set: { optimizer: Optimizer.RMSPROP } },
  { field: 'adam_beta1', set: { adamBeta1: 0.5 } },
  { field: 'adam_beta2', set: { adamBeta2: 0.9 } },
  { field: 'epsilon', set: { epsilon: 1e-2 } },
  { field: 'rmsprop_alpha', set: { rmspropAlpha: 0.5 }, base: { optimizer: Optimizer.RMSPROP } },
  { field: 'rmsprop_momentum', set: { rmspropMomentum: 0.9 }, base: { optimizer: Optimizer.RMSPROP } },
  { field: 'seed', set: { seed: 5n } },
  { field: 'no_shuffle', set: { noShuffle: true } },
  { field: 'sft.loss_reduction', set: {}, rest: { algorithmConfig: { case: 'sft', value: { lossReduction: LossReduction.SEQUENCE_SUM } } } },
  { field: 'sft.train_on_prompt', set: {}, rest: { algorithmConfig: { case: 'sft', value: { trainOnPrompt: true } } } },
  // LoRA (adapters on the frozen base): each of its settings changes the steps of a LoRA job.
  { field: 'lora', set: { lora: { rank: 4 } } },
  { field: 'lora.rank', set: { lora: { rank: 2, alpha: 4 } }, base: { lora: { rank: 4, alpha: 4 } } },
  { field: 'lora.alpha', set: { lora: { rank: 4, alpha: 16 } }, base: { lora: { rank: 4 } } },
  { field: 'lora.target_modules', set: { lora: { rank: 4, targetModules: ['q_proj', 'down_proj'] } }, base: { lora: { rank: 4 } } },
  { field: 'lora.dropout', set: { lora: { rank: 4, alpha: 8, dropout: 0.3 } }, base: { lora: { rank: 4, alpha: 8 } } },
  { field: 'lora.use_rslora', set: { lora: { rank: 4, alpha: 8, useRslora: true } }, base: { lora: { rank: 4, alpha: 8 } } },
];

// Fields refused at StartJob (validate_only too), with the status and the field the message must name.
const REFUSED: { field: string; code: 'UNIMPLEMENTED' | 'INVALID_ARGUMENT' | 'FAILED_PRECONDITION'; spec: Spec }[] = [
  { field: 'spec.hyperparameters.lora.target_modules[1]', code: 'INVALID_ARGUMENT', spec: sftSpec({ lora: { rank: 4, targetModules: ['q_proj', 'qproj'] } }) },
  { field: 'spec.reward_model.frozen_layers', code: 'UNIMPLEMENTED', spec: sftSpec({ lora: { rank: 4 } }, { algorithm: Algorithm.REWARD_MODEL, datasets: [{ path: prefs, schema: DataSchema.PREFERENCE }], algorithmConfig: { case: 'rewardModel', value: { frozenLayers: 1 } } }) },
  { field: 'spec.hyperparameters.min_lr_ratio', code: 'INVALID_ARGUMENT', spec: sftSpec({ minLrRatio: 0.1 }) },
  // weight_sync is honoured (the last test below); out of range or without a generator to sync it is refused.
  { field: 'spec.weight_sync.chunk_bytes', code: 'INVALID_ARGUMENT', spec: sftSpec({}, { weightSync: { chunkBytes: 1024 } }) },
  { field: 'spec.weight_sync.chunk_bytes', code: 'INVALID_ARGUMENT', spec: sftSpec({}, { weightSync: { chunkBytes: 64 << 20 } }) },
  { field: 'spec.weight_sync.every_n_steps', code: 'FAILED_PRECONDITION', spec: sftSpec({}, { weightSync: { everyNSteps: 5n } }) },
  // evaluation.tasks are honoured through the evaluator service (test/e2e/trainer-in-loop-eval.test.ts);
  // this trainer has no default evaluator, so tasks without spec.endpoints.evaluator are refused, and
  // limit alone (it bounds the tasks' documents) would do nothing.
  { field: 'spec.endpoints.evaluator', code: 'FAILED_PRECONDITION', spec: sftSpec({}, { evaluation: { tasks: [{ kind: { case: 'name', value: 'arith' } }] } }) },
  { field: 'spec.evaluation.limit', code: 'INVALID_ARGUMENT', spec: sftSpec({}, { evaluation: { limit: 10 } }) },
  {
    field: 'spec.dpo.reference',
    code: 'UNIMPLEMENTED',
    spec: { algorithm: Algorithm.DPO, datasets: [{ path: prefs, schema: DataSchema.PREFERENCE }], algorithmConfig: { case: 'dpo', value: { reference: ReferencePolicy.STAGE_START } } },
  },
  {
    field: 'spec.dpo.reference_model',
    code: 'UNIMPLEMENTED',
    spec: { algorithm: Algorithm.DPO, datasets: [{ path: prefs, schema: DataSchema.PREFERENCE }], algorithmConfig: { case: 'dpo', value: { referenceModel: { kind: { case: 'hfDir', value: modelDir } } } } },
  },
];

test('each refused setting: StartJob and validate_only answer with the status, naming the field', async () => {
  for (const r of REFUSED) {
    for (const validateOnly of [true, false]) {
      await assert.rejects(startJob(r.spec, validateOnly), (e: Error & { code?: number }) => {
        assert.match(e.message, new RegExp(r.field.replace(/[.[\]]/g, '\\$&')), `${r.field}: ${e.message}`);
        assert.equal(e.code, { UNIMPLEMENTED: 12, INVALID_ARGUMENT: 3, FAILED_PRECONDITION: 9 }[r.code], `${r.field}: ${e.message}`);
        return true;
      });
    }
  }
});

test('each honoured setting changes the job\'s step metrics', async () => {
  const baselines = new Map<string, number[][]>();
  const baseline = async (base: Partial<Hyper> = {}) => {
    const key = JSON.stringify(base, (_, v) => (typeof v === 'bigint' ? String(v) : v));
    if (!baselines.has(key)) baselines.set(key, await metricsOf(sftSpec(base)));
    return baselines.get(key)!;
  };
  const same: string[] = [];
  for (const h of HONOURED) {
    const ref = await baseline(h.base);
    const got = await metricsOf(sftSpec({ ...h.base, ...h.set }, h.rest));
    if (!differs(got, ref)) same.push(h.field);
  }
  assert.deepEqual(same, [], `settings that left the job unchanged: ${same.join(', ')}`);
});

test('validate_only returns the model files; a checkpoint of another job is a model source, pinned to its version', async () => {
  const v = await startJob(sftSpec(), true);
  assert.deepEqual(v.modelFiles.map((f) => f.path.slice(modelDir.length + 1)).filter((n) => n === 'config.json' || n === 'model.safetensors'), ['config.json', 'model.safetensors']);
  assert.ok(v.modelFiles.every((f) => /^[0-9a-f]{64}$/.test(f.sha256) && f.sizeBytes > 0n));

  const first = await startJob(sftSpec({ maxSteps: 2n }));
  await metricsOf(sftSpec({ maxSteps: 1n })); // waits on its own job; `first` is done by then or soon after
  for await (const _ of manager.watch(manager.get(first.id)!, { fromBeginning: true, afterSequence: 0n, omitLogs: true, signal: new AbortController().signal }));
  const fromCkpt = sftSpec({ maxSteps: 1n }, { model: { kind: { case: 'checkpoint', value: { jobId: first.id } } } });
  const checked = await startJob(fromCkpt, true);
  const pinned = checked.spec!.model!.kind;
  assert.equal(pinned.case, 'checkpoint');
  assert.ok(pinned.case === 'checkpoint' && pinned.value.version > 0n, 'version 0 (latest) is pinned');
  assert.ok(checked.modelFiles.some((f) => f.path.endsWith('model.safetensors')));
  const fromCheckpoint = await metricsOf(fromCkpt);
  const fromBase = await metricsOf(sftSpec({ maxSteps: 1n }));
  assert.ok(differs(fromCheckpoint, fromBase), 'training from the checkpoint starts from its weights, not the base model');
  await assert.rejects(startJob(sftSpec({}, { model: { kind: { case: 'checkpoint', value: { jobId: 'no-such-job' } } } }), true), /spec\.model\.checkpoint\.job_id/);
});

test('weight_sync is honoured: an SFT job with every_n_steps keeps spec.endpoints.generator serving its policy, with every option set', async () => {
  const host = await ModelHost.load({ modelDir, maxBatch: 2, maxQueue: 8 });
  const server = await startServer({ name: 'generator', host: '127.0.0.1', port: 0, log: createLogger('contract-generator', 'error', () => undefined), services: [defineService(GeneratorService, createGeneratorService(host))] });
  try {
    const initial = host.weights.active.weights;
    const spec = sftSpec({}, { endpoints: { generator: [server.address] }, weightSync: { everyNSteps: 1n, delta: true, twoPhase: true, chunkBytes: 64 << 10, timeoutSeconds: 60 } });
    const job = await startJob(spec);
    const pushes: { version: bigint; bytes: bigint; replicas: number }[] = [];
    for await (const e of manager.watch(manager.get(job.id)!, { fromBeginning: true, afterSequence: 0n, omitLogs: true, signal: new AbortController().signal })) {
      if (e.event.case === 'weightsPushed') pushes.push(e.event.value);
    }
    assert.equal(manager.get(job.id)!.state, JobState.SUCCEEDED, manager.get(job.id)!.error?.message);
    assert.equal(pushes.length, 3, 'one push per optimizer step (every_n_steps 1, max_steps 3)');
    assert.deepEqual(pushes.map((p) => p.version), [1n, 2n, 3n]);
    assert.ok(pushes.every((p) => p.replicas === 1 && p.bytes > 0n));
    assert.equal(host.weights.active.number, 3n, 'the generator serves the last pushed version (two-phase: activated)');
    assert.notEqual(host.weights.active.weights.get('model.norm.weight'), initial.get('model.norm.weight'));
  } finally {
    await server.shutdown(0);
    await host.close();
  }
});
