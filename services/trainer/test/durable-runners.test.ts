// Resume through the real job manager and runners, in process: a job stopped by a trainer shutdown
// (stopAll: the step in flight finishes and is checkpointed, the job stays RUNNING on disk) is picked up
// by a new JobManager on the same store, and must end with the weights of an uninterrupted run.
// DPO restores its frozen initial reference; IRFT stopped mid-stage restores the stage's stored
// negatives and stage-start reference instead of regenerating (the generator is its own process).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { CheckpointStore } from '@juice/checkpoint';
import { startRoleProcess, type RoleProcess } from '@juice/cli';
import { writeSyntheticDatasets } from '@juice/data';
import { createDefaultModel } from '@juice/models';
import { Algorithm, DataSchema, JobSpecSchema, JobState, type Job, type WatchJobResponse } from '@juice/proto';
import { JobManager, type JobRunner } from '../src/job-manager.js';
import { JobStore } from '../src/job-store.js';
import { dpoRunner } from '../src/runners/dpo-runner.js';
import { irftRunner } from '../src/runners/irft-runner.js';

const work = mkdtempSync(join(tmpdir(), 'juice-durable-'));
const quiet = { info() {}, warn() {}, error() {} };
let generator: RoleProcess;
before(async () => {
  const genModel = join(work, 'gen-model');
  createDefaultModel(genModel, { corpus: ['What is 1+1? 2'], seed: 9 });
  generator = await startRoleProcess('generator', ['--model', genModel]);
});
after(async () => {
  await generator.stop();
});

function runners(root: string): Partial<Record<Algorithm, JobRunner>> {
  return { [Algorithm.DPO]: dpoRunner(), [Algorithm.IRFT]: irftRunner(generator.address) };
}

async function untilDone(m: JobManager, job: Job): Promise<WatchJobResponse[]> {
  const out: WatchJobResponse[] = [];
  for await (const e of m.watch(job, { fromBeginning: true, afterSequence: 0n, omitLogs: false, signal: new AbortController().signal })) out.push(e);
  return out;
}

/** Starts the job, shuts the trainer down once `stopAt` steps were reported, resumes it in a new manager. */
async function stopAndResume(root: string, spec: MessageInitShape<typeof JobSpecSchema>, stopAt: number): Promise<{ job: Job; stoppedAt: Job; events: WatchJobResponse[] }> {
  const first = new JobManager(new JobStore(root), runners(root), quiet);
  const job = first.start(create(JobSpecSchema, spec), { configSha256: 'x', dataFiles: [], trainerVersion: 'test' });
  for await (const e of first.watch(job, { fromBeginning: true, afterSequence: 0n, omitLogs: true, signal: new AbortController().signal })) {
    if (e.event.case === 'error') assert.fail(e.event.value.message);
    if (e.event.case === 'stepMetrics' && Number(e.event.value.step) === stopAt && e.event.value.metrics.loss !== undefined) break;
  }
  await first.stopAll();
  const stoppedAt = new JobStore(root).loadAll(() => {}).find((j) => j.id === job.id)!;
  assert.equal(stoppedAt.state, JobState.RUNNING, 'a shutdown leaves the job RUNNING for the next trainer');
  const second = new JobManager(new JobStore(root), runners(root), quiet);
  second.resumeInterrupted();
  const resumed = second.get(job.id)!;
  const events = await untilDone(second, resumed);
  return { job: resumed, stoppedAt, events };
}

async function uninterrupted(root: string, spec: MessageInitShape<typeof JobSpecSchema>): Promise<Job> {
  const m = new JobManager(new JobStore(root), runners(root), quiet);
  const job = m.start(create(JobSpecSchema, spec), { configSha256: 'x', dataFiles: [], trainerVersion: 'test' });
  const evs = await untilDone(m, job);
  assert.equal(job.state, JobState.SUCCEEDED, evs.flatMap((e) => (e.event.case === 'error' ? [e.event.value.message] : [])).join('\n'));
  return job;
}

const logs = (evs: WatchJobResponse[]) => evs.flatMap((e) => (e.event.case === 'log' ? [e.event.value.message] : []));

const prefs = join(work, 'prefs.jsonl');
const dpoSpec = {
  algorithm: Algorithm.DPO,
  datasets: [{ path: prefs, schema: DataSchema.PREFERENCE }],
  hyperparameters: { maxSteps: 12n, batchSize: 8, learningRate: 3e-3, warmupSteps: 2 },
  algorithmConfig: { case: 'dpo' as const, value: { beta: 0.5 } },
  checkpoints: { everyNSteps: 3n, keepLast: 2 },
};
let dpoControl: Promise<Job> | undefined;
const dpoControlJob = () => (dpoControl ??= uninterrupted(join(work, 'dpo-control'), dpoSpec));

test('DPO stopped by a shutdown at step 5 resumes (weights, AdamW, cursor, frozen initial reference) to the uninterrupted weights', async () => {
  writeFileSync(prefs, Array.from({ length: 40 }, (_, i) => JSON.stringify({ prompt: `What is ${i % 9}+${i % 7}?`, chosen: `${(i % 9) + (i % 7)}`, rejected: `${(i % 9) + (i % 7) + 1}` })).join('\n') + '\n');
  const spec = dpoSpec;
  const root = join(work, 'dpo');
  const { job, stoppedAt, events } = await stopAndResume(root, spec, 5);
  assert.equal(job.state, JobState.SUCCEEDED);
  assert.equal(job.attempts, 2);
  const stopStep = Number(stoppedAt.lastCheckpoint!.step);
  assert.ok(stopStep >= 5 && stopStep < 12, `the shutdown checkpointed its step (${stopStep})`);
  assert.ok(logs(events).some((m) => m.startsWith(`resuming from checkpoint v${stoppedAt.lastCheckpoint!.version} at step ${stopStep}`)), logs(events).join(' | '));
  const control = await dpoControlJob();
  assert.equal(job.lastCheckpoint!.sha256, control.lastCheckpoint!.sha256);
});

test('a cancelled DPO job checkpoints its step; ResumeJob from an older checkpoint_version still ends with the uninterrupted weights', async () => {
  const root = join(work, 'dpo-cancel');
  const m = new JobManager(new JobStore(root), runners(root), quiet);
  const job = m.start(create(JobSpecSchema, dpoSpec), { configSha256: 'x', dataFiles: [], trainerVersion: 'test' });
  for await (const e of m.watch(job, { fromBeginning: true, afterSequence: 0n, omitLogs: true, signal: new AbortController().signal })) {
    if (e.event.case === 'stepMetrics' && Number(e.event.value.step) === 5) m.cancel(job, 'test');
  }
  assert.equal(job.state, JobState.CANCELLED);
  const store = CheckpointStore.open(join(root, 'checkpoints'));
  const versions = store.list(job.id);
  const steps = versions.map((v) => store.manifest(job.id, v).metadata.step as number);
  assert.equal(steps.at(-1), Number(job.lastCheckpoint!.step), 'the cancel checkpointed the step it stopped at');
  assert.ok(steps.length === 2 && steps[0]! < steps[1]!, `kept steps ${steps.join(', ')}`);
  m.resume(job, versions[0]);
  const evs = await untilDone(m, job);
  assert.equal(job.state, JobState.SUCCEEDED);
  assert.ok(logs(evs).some((l) => l.startsWith(`resuming from checkpoint v${versions[0]} at step ${steps[0]}`)), logs(evs).join(' | '));
  assert.equal(job.lastCheckpoint!.sha256, (await dpoControlJob()).lastCheckpoint!.sha256);
});

test('IRFT stopped mid-stage resumes with the stored negatives and stage-start reference (no regeneration) to the uninterrupted weights', async () => {
  const data = await writeSyntheticDatasets(join(work, 'data'), { seed: 3, trainSize: 32, evalSize: 8 });
  const spec = {
    algorithm: Algorithm.IRFT,
    datasets: [{ path: data.files.train, schema: DataSchema.CHAT }],
    hyperparameters: { batchSize: 8, learningRate: 3e-3 },
    algorithmConfig: { case: 'irft' as const, value: { stages: 2, stepsPerStage: 5n, beta: 0.5, generation: { temperature: 0, maxNewTokens: 12 } } },
    checkpoints: { everyNSteps: 4n },
  };
  const root = join(work, 'irft');
  const { job, stoppedAt, events } = await stopAndResume(root, spec, 7);
  assert.equal(job.state, JobState.SUCCEEDED, events.flatMap((e) => (e.event.case === 'error' ? [e.event.value.message] : [])).join('\n'));
  const stopStep = Number(stoppedAt.lastCheckpoint!.step);
  assert.ok(stopStep >= 7 && stopStep < 10, `stopped inside stage 2 (step ${stopStep})`);
  assert.equal(stoppedAt.dataPosition?.stage, 1);
  assert.equal(stoppedAt.dataPosition?.stageSamplesReady, true, 'the mid-stage checkpoint holds the negatives');
  const attempt2 = events.slice(events.findIndex((e) => e.event.case === 'log' && e.event.value.message.startsWith('resuming from checkpoint')));
  assert.equal(attempt2.filter((e) => e.event.case === 'weightsPushed').length, 0, 'the resumed stage did not regenerate');
  const control = await uninterrupted(join(work, 'irft-control'), spec);
  assert.equal(job.lastCheckpoint!.sha256, control.lastCheckpoint!.sha256);
});
