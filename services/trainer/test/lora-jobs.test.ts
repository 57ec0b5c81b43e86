// LoRA trainer jobs through the real TrainerService and job manager, in process (issue #14): a LoRA SFT job
// trains only adapters on the frozen base and checkpoints a PEFT directory that loadModelWithAdapter loads,
// whose logits equal the unmerged adapter graph's (base + scaling·B·A branch) and differ from the base's; the
// base model's files are untouched; the optimizer state covers the adapters only; a ModelSource.checkpoint of
// the job resolves to base + adapter. A LoRA REWARD_MODEL job saves a PEFT SEQ_CLS directory (score head as
// modules_to_save). LoRA SFT, DPO and REWARD_MODEL jobs stopped by a shutdown resume to the adapter bytes
// of an uninterrupted run. A target module the model lacks fails the job INVALID_ARGUMENT naming its index.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { baseWeightFeeds, EvalStep, loraEnabledFeed } from '@juice/algorithms';
import { buildCausalLm, buildRewardModel, createDefaultModel, DEFAULT_MODEL_CONFIG, loadModel, loadModelWithAdapter, loraParameterShapes, type LoraSpec } from '@juice/models';
import { deserializeOptimizerState, ParamSet } from '@juice/optim';
import { Algorithm, DataSchema, JobSpecSchema, JobState, StartJobRequestSchema, StartJobResponseSchema, type Job } from '@juice/proto';
import { JobManager } from '../src/job-manager.js';
import { JobStore } from '../src/job-store.js';
import { dpoRunner } from '../src/runners/dpo-runner.js';
import { loadCheckpointModel } from '../src/runners/model-source.js';
import { rewardModelRunner } from '../src/runners/reward-model-runner.js';
import { sftRunner } from '../src/runners/sft-runner.js';
import { createTrainerService } from '../src/trainer-service.js';

type Spec = Extract<MessageInitShape<typeof JobSpecSchema>, { $typeName?: undefined }>;
const work = mkdtempSync(join(tmpdir(), 'juice-lora-jobs-'));
const quiet = { info() {}, warn() {}, error() {} };
const modelDir = join(work, 'model');
const demos = join(work, 'demos.jsonl');
const prefs = join(work, 'prefs.jsonl');
const rows = Array.from({ length: 16 }, (_, i) => ({ prompt: `Add ${i} and ${i + 3}:`, completion: ` ${2 * i + 3}` }));
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
const runners = () => ({ [Algorithm.SFT]: sftRunner(), [Algorithm.DPO]: dpoRunner(), [Algorithm.REWARD_MODEL]: rewardModelRunner() });

before(() => {
  writeFileSync(demos, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  writeFileSync(prefs, rows.map((r) => JSON.stringify({ prompt: r.prompt, chosen: r.completion, rejected: ' 0' })).join('\n') + '\n');
  const config = { ...DEFAULT_MODEL_CONFIG, hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 2, numKvHeads: 1, headDim: 16 };
  createDefaultModel(modelDir, { corpus: rows.map((r) => r.prompt + r.completion), seed: 3, config });
});

const LORA = { rank: 4, alpha: 8, targetModules: ['q_proj', 'v_proj', 'down_proj'] };
const sftSpec = (extra: Partial<Spec> = {}): Spec => ({
  algorithm: Algorithm.SFT,
  model: { kind: { case: 'hfDir', value: modelDir } },
  datasets: [{ path: demos, schema: DataSchema.PROMPT_COMPLETION }],
  hyperparameters: { maxSteps: 6n, batchSize: 4, learningRate: 2e-2, lora: LORA },
  checkpoints: { everyNSteps: 2n },
  ...extra,
});
const dpoSpec: Spec = {
  algorithm: Algorithm.DPO,
  model: { kind: { case: 'hfDir', value: modelDir } },
  datasets: [{ path: prefs, schema: DataSchema.PREFERENCE }],
  hyperparameters: { maxSteps: 6n, batchSize: 4, learningRate: 2e-2, lora: { rank: 2, targetModules: ['k_proj', 'o_proj', 'up_proj'], useRslora: true } },
  algorithmConfig: { case: 'dpo', value: { beta: 0.5 } },
  checkpoints: { everyNSteps: 2n },
};

const rmSpec: Spec = {
  algorithm: Algorithm.REWARD_MODEL,
  model: { kind: { case: 'hfDir', value: modelDir } },
  datasets: [{ path: prefs, schema: DataSchema.PREFERENCE }],
  hyperparameters: { maxSteps: 6n, batchSize: 4, learningRate: 2e-2, lora: { rank: 2, alpha: 4, targetModules: ['all-linear'] } },
  checkpoints: { everyNSteps: 2n },
};

async function untilDone(m: JobManager, job: Job): Promise<void> {
  for await (const _ of m.watch(job, { fromBeginning: true, afterSequence: 0n, omitLogs: true, signal: new AbortController().signal }));
}

let manager: JobManager;
let svc: ReturnType<typeof createTrainerService>;
const ctx = { signal: new AbortController().signal } as Parameters<NonNullable<ReturnType<typeof createTrainerService>['startJob']>>[1];
before(() => {
  manager = new JobManager(new JobStore(join(work, 'svc')), runners(), quiet);
  svc = createTrainerService(manager);
});
after(async () => {
  await manager.stopAll();
});

async function runThroughService(spec: Spec): Promise<Job> {
  const started = create(StartJobResponseSchema, await svc.startJob!(create(StartJobRequestSchema, { spec }), ctx)).job!;
  const job = manager.get(started.id)!;
  await untilDone(manager, job);
  return job;
}

test('LoRA SFT through the TrainerService: a PEFT checkpoint = the unmerged adapter graph, the base untouched, optimizer state over adapters only', async (t) => {
  const baseHash = sha(join(modelDir, 'model.safetensors'));
  const job = await runThroughService(sftSpec());
  assert.equal(job.state, JobState.SUCCEEDED, job.error?.message);
  const dir = job.lastCheckpoint!.path;
  for (const f of ['adapter_config.json', 'adapter_model.safetensors', 'lora_base.json', 'tokenizer.json', 'trainer_state.json', 'optimizer-policy.bin']) assert.ok(existsSync(join(dir, f)), `checkpoint has ${f}`);
  assert.ok(!existsSync(join(dir, 'model.safetensors')), 'no copy of the base weights in the checkpoint');
  const cfg = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
  assert.deepEqual([cfg.peft_type, cfg.task_type, cfg.r, cfg.lora_alpha, cfg.target_modules, cfg.use_rslora], ['LORA', 'CAUSAL_LM', 4, 8, LORA.targetModules, false]);
  assert.equal(job.lastCheckpoint!.sha256, sha(join(dir, 'adapter_model.safetensors')), 'CheckpointInfo hashes the adapter');
  assert.equal(sha(join(modelDir, 'model.safetensors')), baseHash, 'the base model file is unchanged');

  const base = loadModel(modelDir);
  const spec: LoraSpec = { rank: 4, alpha: 8, targetModules: LORA.targetModules };
  const loaded = loadModelWithAdapter(modelDir, dir);
  assert.ok([...loaded.adapter.adapters.data].some((x, i) => i % 2 && x !== 0) && loaded.adapter.adapters.view(loraParameterShapes(base.config, spec)[1]!.name).some((x) => x !== 0), 'lora_B trained away from 0');

  // Optimizer moments over the adapters only (PEFT layout), not over the base.
  const opt = deserializeOptimizerState(readFileSync(join(dir, 'optimizer-policy.bin')));
  const adapterLength = new ParamSet(loraParameterShapes(base.config, spec)).length;
  assert.equal(opt.length, adapterLength);
  assert.equal(opt.m!.length, adapterLength);
  assert.ok(adapterLength * 10 < base.params.length, `adapter state ${adapterLength} floats vs the base's ${base.params.length}`);
  assert.equal(opt.step, 6);

  // Logits: merged checkpoint (plain graph) vs base + adapters through the LoRA branches, on a real batch.
  const T = 8;
  const ids = BigInt64Array.from({ length: 2 * T }, (_, i) => BigInt((i * 37 + 5) % base.config.vocabSize));
  const batch = { input_ids: { data: ids, dims: [2, T] }, attention_mask: { data: new BigInt64Array(2 * T).fill(1n), dims: [2, T] }, labels: { data: new BigInt64Array(2 * T).fill(-100n), dims: [2, T] } };
  const plain = await EvalStep.create(buildCausalLm(base.config, { logits: true }).graph, base.params, ['logits']);
  const branched = await EvalStep.create(buildCausalLm(base.config, { logits: true, lora: spec, loraGraph: { switchable: true } }).graph, loaded.adapter.adapters, ['logits']);
  const merged = (await plain.run(batch, loaded.params)).logits!.data as Float32Array;
  const baseLogits = (await plain.run(batch, base.params)).logits!.data as Float32Array;
  const viaBranches = (await branched.run({ ...batch, ...baseWeightFeeds(base.params), ...loraEnabledFeed(true) })).logits!.data as Float32Array;
  await plain.release();
  await branched.release();
  let diff = 0;
  let moved = 0;
  for (let i = 0; i < merged.length; i++) {
    diff = Math.max(diff, Math.abs(merged[i]! - viaBranches[i]!));
    moved = Math.max(moved, Math.abs(merged[i]! - baseLogits[i]!));
  }
  t.diagnostic(`merged checkpoint vs base + adapter branches: max |Δlogit| ${diff.toExponential(2)}; adapter moved the logits by up to ${moved.toFixed(3)}`);
  assert.ok(diff <= 1e-4, `merged vs adapter-branch logits differ by ${diff}`);
  assert.ok(moved > 1e-3, `the adapter changes the logits (by ${moved})`);

  // ModelSource.checkpoint of the LoRA job: base + adapter, the same weights loadModelWithAdapter gives.
  const fromStore = loadCheckpointModel(dir);
  assert.equal(fromStore.sha256, loaded.sha256);
  assert.deepEqual(fromStore.params.data, loaded.params.data);
  const next = await runThroughService({ ...sftSpec({ model: { kind: { case: 'checkpoint', value: { jobId: job.id } } } }), hyperparameters: { maxSteps: 1n, batchSize: 4, learningRate: 1e-3 } });
  assert.equal(next.state, JobState.SUCCEEDED, next.error?.message);
  assert.ok(existsSync(join(next.lastCheckpoint!.path, 'model.safetensors')), 'a full job from a LoRA checkpoint trains (and saves) the merged model');
});

test('a target module the model lacks fails the job INVALID_ARGUMENT naming spec.hyperparameters.lora.target_modules[i]', async () => {
  const job = await runThroughService(sftSpec({ hyperparameters: { maxSteps: 1n, lora: { rank: 2, targetModules: ['q_proj', 'query_key_value'] } } }));
  assert.equal(job.state, JobState.FAILED);
  assert.match(job.error!.message, /spec\.hyperparameters\.lora\.target_modules\[1\]: .*query_key_value/);
  assert.equal(String(job.error!.code), 'INVALID_ARGUMENT');
});

/** Shuts the trainer down after `stopAt` steps and resumes the job in a new manager on the same store. */
async function stopAndResume(root: string, spec: Spec, stopAt: number): Promise<{ job: Job; stoppedAt: number }> {
  const first = new JobManager(new JobStore(root), runners(), quiet);
  const job = first.start(create(JobSpecSchema, spec), { configSha256: 'x', dataFiles: [], trainerVersion: 'test' });
  for await (const e of first.watch(job, { fromBeginning: true, afterSequence: 0n, omitLogs: true, signal: new AbortController().signal })) {
    if (e.event.case === 'error') assert.fail(e.event.value.message);
    if (e.event.case === 'stepMetrics' && Number(e.event.value.step) === stopAt && e.event.value.metrics.loss !== undefined) break;
  }
  await first.stopAll();
  const stoppedAt = Number(new JobStore(root).loadAll(() => {}).find((j) => j.id === job.id)!.lastCheckpoint!.step);
  const second = new JobManager(new JobStore(root), runners(), quiet);
  second.resumeInterrupted();
  const resumed = second.get(job.id)!;
  await untilDone(second, resumed);
  return { job: resumed, stoppedAt };
}

async function uninterrupted(root: string, spec: Spec): Promise<Job> {
  const m = new JobManager(new JobStore(root), runners(), quiet);
  const job = m.start(create(JobSpecSchema, spec), { configSha256: 'x', dataFiles: [], trainerVersion: 'test' });
  await untilDone(m, job);
  assert.equal(job.state, JobState.SUCCEEDED, job.error?.message);
  return job;
}

test('LoRA REWARD_MODEL: a PEFT SEQ_CLS checkpoint (adapters + the score head as modules_to_save) whose merged reward model scores as the adapter graph', async (t) => {
  const baseHash = sha(join(modelDir, 'model.safetensors'));
  const job = await runThroughService(rmSpec);
  assert.equal(job.state, JobState.SUCCEEDED, job.error?.message);
  const dir = job.lastCheckpoint!.path;
  const cfg = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
  assert.deepEqual([cfg.task_type, cfg.r, cfg.lora_alpha, cfg.target_modules, cfg.modules_to_save], ['SEQ_CLS', 2, 4, ['all-linear'], ['score']]);
  assert.ok(!existsSync(join(dir, 'model.safetensors')));
  assert.equal(sha(join(modelDir, 'model.safetensors')), baseHash, 'the base model file is unchanged');
  const base = loadModel(modelDir);
  const spec: LoraSpec = { rank: 2, alpha: 4, targetModules: ['all-linear'] };
  const loaded = loadModelWithAdapter(modelDir, dir, 'reward');
  const opt = deserializeOptimizerState(readFileSync(join(dir, 'optimizer-reward.bin')));
  const trained = new ParamSet([...loraParameterShapes(base.config, spec), { name: 'score.weight', shape: [1, base.config.hiddenSize] }]);
  assert.equal(opt.length, trained.length, 'optimizer moments over the adapters and the score head only');
  for (const e of loaded.adapter.adapters.entries) trained.set(e.name, loaded.adapter.adapters.view(e.name));
  trained.set('score.weight', loaded.adapter.scoreHead!);
  const T = 6;
  const ids = BigInt64Array.from({ length: 3 * T }, (_, i) => BigInt((i * 29 + 3) % base.config.vocabSize));
  const batch = { input_ids: { data: ids, dims: [3, T] }, attention_mask: { data: new BigInt64Array(3 * T).fill(1n), dims: [3, T] } };
  const plain = await EvalStep.create(buildRewardModel(base.config).graph, loaded.params, ['rewards']);
  const branched = await EvalStep.create(buildRewardModel(base.config, { lora: spec }).graph, trained, ['rewards']);
  const merged = (await plain.run(batch, loaded.params)).rewards!.data as Float32Array;
  const viaBranches = (await branched.run({ ...baseWeightFeeds(base.params), ...batch })).rewards!.data as Float32Array;
  await plain.release();
  await branched.release();
  const diff = Math.max(...merged.map((x, i) => Math.abs(x - viaBranches[i]!)));
  t.diagnostic(`merged reward model vs base + adapter branches + score head: max |Δreward| ${diff.toExponential(2)}`);
  assert.ok(diff <= 1e-4, `rewards differ by ${diff}`);
});

const withDropout = sftSpec({ checkpoints: { everyNSteps: 4n }, hyperparameters: { maxSteps: 6n, batchSize: 4, learningRate: 2e-2, lora: { ...LORA, dropout: 0.2 } } });
for (const [name, spec] of [['SFT', sftSpec({ checkpoints: { everyNSteps: 4n } })], ['SFT (lora_dropout 0.2)', withDropout], ['DPO', dpoSpec], ['REWARD_MODEL', rmSpec]] as const) {
  test(`LoRA ${name} stopped by a shutdown resumes (adapters, their AdamW moments, cursor, dropout masks) to the uninterrupted adapter bytes`, async () => {
    const { job, stoppedAt } = await stopAndResume(join(work, `${name.replace(/\W+/g, '-')}-resume`), spec, 3);
    assert.equal(job.state, JobState.SUCCEEDED, job.error?.message);
    assert.equal(job.attempts, 2);
    assert.ok(stoppedAt >= 3 && stoppedAt < 6, `stopped at step ${stoppedAt}`);
    const control = await uninterrupted(join(work, `${name.replace(/\W+/g, '-')}-control`), spec);
    assert.equal(job.lastCheckpoint!.sha256, control.lastCheckpoint!.sha256, 'adapter_model.safetensors bit-identical');
  });
}
