// REWARD_MODEL jobs are durable like SFT/DPO: checkpoints every N steps hold the reward weights (an HF
// *ForSequenceClassification directory) plus the trainer state (the optimizer's moments, step, data
// cursor, the frozen-layer setup). A job stopped by a trainer shutdown mid-way is picked up by a new
// JobManager on the same store, continues at the next step and ends with the uninterrupted run's weights.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { CheckpointStore } from '@juice/checkpoint';
import { Algorithm, DataSchema, JobSpecSchema, JobState, RewardModelConfigSchema, type Job, type WatchJobResponse } from '@juice/proto';
import { JobManager } from '../src/job-manager.js';
import { JobStore } from '../src/job-store.js';
import { rewardModelRunner } from '../src/runners/reward-model-runner.js';
import { TRAINER_STATE_FILE } from '../src/runners/trainer-state.js';

const work = mkdtempSync(join(tmpdir(), 'juice-rm-resume-'));
const quiet = { info() {}, warn() {}, error() {} };
const manager = (root: string) => new JobManager(new JobStore(root), { [Algorithm.REWARD_MODEL]: rewardModelRunner() }, quiet);
const meta = { configSha256: 'x', dataFiles: [], trainerVersion: 'test' };

async function untilDone(m: JobManager, job: Job): Promise<WatchJobResponse[]> {
  const out: WatchJobResponse[] = [];
  for await (const e of m.watch(job, { fromBeginning: true, afterSequence: 0n, omitLogs: false, signal: new AbortController().signal })) out.push(e);
  return out;
}
const errors = (evs: WatchJobResponse[]) => evs.flatMap((e) => (e.event.case === 'error' ? [e.event.value.message] : [])).join('\n');
const logs = (evs: WatchJobResponse[]) => evs.flatMap((e) => (e.event.case === 'log' ? [e.event.value.message] : []));
const stepsOf = (evs: WatchJobResponse[]) => evs.flatMap((e) => (e.event.case === 'stepMetrics' ? [Number(e.event.value.step)] : []));

const prefs = join(work, 'prefs.jsonl');
const held = join(work, 'held.jsonl');
const rows = (n: number, o: number) => Array.from({ length: n }, (_, i) => JSON.stringify({ prompt: `What is ${(i + o) % 9}+${(i * 3 + o) % 7}?`, chosen: `${((i + o) % 9) + ((i * 3 + o) % 7)}`, rejected: `${((i + o) % 9) + ((i * 3 + o) % 7) + 1}` })).join('\n') + '\n';
writeFileSync(prefs, rows(28, 0));
writeFileSync(held, rows(6, 4));
// 28 pairs / 8 a step → 4 steps an epoch (the last one short); 10 steps cross two epoch ends.
const spec: MessageInitShape<typeof JobSpecSchema> = {
  algorithm: Algorithm.REWARD_MODEL,
  datasets: [{ path: prefs, schema: DataSchema.PREFERENCE }],
  evalDatasets: [{ path: held, schema: DataSchema.PREFERENCE }],
  hyperparameters: { maxSteps: 10n, batchSize: 8, learningRate: 3e-3, warmupSteps: 2, lrSchedule: 2, weightDecay: 0.01 },
  algorithmConfig: { case: 'rewardModel', value: { frozenLayers: 1, centerRewardsCoefficient: 0.01 } },
  checkpoints: { everyNSteps: 3n },
};

test('a REWARD_MODEL job stopped at step 5 resumes at step 6 (reward weights, AdamW moments, cursor, frozen layers) to the uninterrupted weights', async () => {
  const control = manager(join(work, 'control'));
  const cjob = control.start(create(JobSpecSchema, spec), meta);
  const cevs = await untilDone(control, cjob);
  assert.equal(cjob.state, JobState.SUCCEEDED, errors(cevs));
  assert.deepEqual(stepsOf(cevs), Array.from({ length: 10 }, (_, i) => i + 1));
  assert.equal(cevs.filter((e) => e.event.case === 'evaluation').length, 2, 'held-out pairs scored before and after training');

  const root = join(work, 'stopped');
  const first = manager(root);
  const job = first.start(create(JobSpecSchema, spec), meta);
  for await (const e of first.watch(job, { fromBeginning: true, afterSequence: 0n, omitLogs: true, signal: new AbortController().signal })) {
    if (e.event.case === 'error') assert.fail(e.event.value.message);
    if (e.event.case === 'stepMetrics' && Number(e.event.value.step) === 5) break;
  }
  await first.stopAll();
  const stoppedAt = new JobStore(root).loadAll(() => {}).find((j) => j.id === job.id)!;
  assert.equal(stoppedAt.state, JobState.RUNNING);
  const stopStep = Number(stoppedAt.lastCheckpoint!.step);
  assert.ok(stopStep >= 5 && stopStep < 10, `the shutdown checkpointed its step (${stopStep})`);
  // The stop's checkpoint is a servable reward model with the trainer state beside it.
  const store = CheckpointStore.open(join(root, 'checkpoints'));
  const version = Number(stoppedAt.lastCheckpoint!.version);
  const loaded = store.load(job.id, version);
  assert.deepEqual(JSON.parse(readFileSync(join(loaded.dir, 'config.json'), 'utf8')).architectures, ['LlamaForSequenceClassification']);
  const state = JSON.parse(readFileSync(loaded.files.get(TRAINER_STATE_FILE)!, 'utf8'));
  assert.equal(state.step, stopStep);
  assert.ok(state.files.optimizers.reward, 'the reward optimizer moments are saved');
  assert.equal(state.extra.frozenLayers, 1);
  assert.ok(state.extra.frozen.includes('model.embed_tokens.weight'), state.extra.frozen.join(','));

  const second = manager(root);
  second.resumeInterrupted();
  const resumed = second.get(job.id)!;
  const evs = await untilDone(second, resumed);
  assert.equal(resumed.state, JobState.SUCCEEDED, errors(evs));
  assert.equal(resumed.attempts, 2);
  const at = evs.findIndex((e) => e.event.case === 'log' && e.event.value.message.startsWith(`resuming from checkpoint v${version} at step ${stopStep}`));
  assert.ok(at >= 0, logs(evs).join(' | '));
  assert.deepEqual(stepsOf(evs.slice(at)), Array.from({ length: 10 - stopStep }, (_, i) => stopStep + 1 + i), 'the resumed attempt runs the remaining steps only');
  assert.equal(resumed.lastCheckpoint!.sha256, cjob.lastCheckpoint!.sha256, 'final reward weights bit-identical to the uninterrupted run');
  // The resumed run's last step reports the same metrics as the uninterrupted run's.
  const lastLoss = (evs: WatchJobResponse[]) => evs.flatMap((e) => (e.event.case === 'stepMetrics' ? [e.event.value.metrics.loss] : [])).at(-1);
  assert.equal(lastLoss(evs), lastLoss(cevs));
});

test('a REWARD_MODEL checkpoint trained with other frozen layers is refused on resume (FAILED_PRECONDITION)', async () => {
  const root = join(work, 'frozen');
  const m = manager(root);
  const job = m.start(create(JobSpecSchema, { ...spec, hyperparameters: { ...spec.hyperparameters, maxSteps: 3n } }), meta);
  await untilDone(m, job);
  assert.equal(job.state, JobState.SUCCEEDED);
  // Same store, the spec edited behind the trainer's back: the saved moments assume other fixed tensors.
  job.spec!.algorithmConfig = { case: 'rewardModel', value: create(RewardModelConfigSchema, { frozenLayers: 0 }) };
  m.resume(job);
  const evs = await untilDone(m, job);
  assert.equal(job.state, JobState.FAILED, errors(evs));
  assert.equal(job.error?.code, 'FAILED_PRECONDITION');
  assert.match(job.error!.message, /frozen_layers 1 .* freezes 0/);
});
