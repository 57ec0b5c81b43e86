// IRFT max_steps and resume, through the real job manager and runner in process (the generator is its
// own process), with samples_per_prompt k = 2 and chunked generation: the step where max_steps cuts a
// stage is checkpointed with that stage's k·part negatives and reference, so
//   - resuming a job that reached its cap trains nothing more (no push, no step, no new checkpoint);
//   - ResumeJob raising max_steps continues the cut stage from the stored negatives (no regeneration)
//     and ends with the weights of an uncapped uninterrupted run (a capped stage is its prefix).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { CheckpointStore } from '@juice/checkpoint';
import { startRoleProcess, type RoleProcess } from '@juice/cli';
import { writeSyntheticDatasets } from '@juice/data';
import { createDefaultModel } from '@juice/models';
import { Algorithm, DataSchema, JobSpecSchema, JobState, type Job, type WatchJobResponse } from '@juice/proto';
import { JobManager } from '../src/job-manager.js';
import { JobStore } from '../src/job-store.js';
import { irftRunner } from '../src/runners/irft-runner.js';
import { readTrainerState } from '../src/runners/trainer-state.js';

const work = mkdtempSync(join(tmpdir(), 'juice-irft-cap-'));
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

const manager = (root: string) => new JobManager(new JobStore(root), { [Algorithm.IRFT]: irftRunner(generator.address) }, quiet);

async function untilDone(m: JobManager, job: Job): Promise<WatchJobResponse[]> {
  const out: WatchJobResponse[] = [];
  for await (const e of m.watch(job, { fromBeginning: true, afterSequence: 0n, omitLogs: false, signal: new AbortController().signal })) out.push(e);
  const errors = out.flatMap((e) => (e.event.case === 'error' ? [e.event.value.message] : []));
  assert.equal(job.state, JobState.SUCCEEDED, errors.join('\n'));
  return out;
}

const trainedSteps = (evs: WatchJobResponse[]) => evs.flatMap((e) => (e.event.case === 'stepMetrics' && e.event.value.metrics.loss !== undefined ? [Number(e.event.value.step)] : []));
const pushes = (evs: WatchJobResponse[]) => evs.filter((e) => e.event.case === 'weightsPushed').length;
const logs = (evs: WatchJobResponse[]) => evs.flatMap((e) => (e.event.case === 'log' ? [e.event.value.message] : []));

test('IRFT capped by max_steps: a resume at the cap trains nothing; raising max_steps continues the cut stage to the uncapped weights', async () => {
  const data = await writeSyntheticDatasets(join(work, 'data'), { seed: 3, trainSize: 32, evalSize: 8 });
  // 2 stages of 16 demonstrations × k = 2 = 32 pairs: 4 steps of 8 pairs per stage, 8 planned.
  const spec = (maxSteps: bigint): MessageInitShape<typeof JobSpecSchema> => ({
    algorithm: Algorithm.IRFT,
    datasets: [{ path: data.files.train, schema: DataSchema.CHAT }],
    hyperparameters: { batchSize: 8, learningRate: 3e-3, maxSteps },
    algorithmConfig: { case: 'irft', value: { stages: 2, beta: 0.5, samplesPerPrompt: 2, generationBatchSize: 6, sftLossCoefficient: 0.5, generation: { temperature: 1, seed: 5n, maxNewTokens: 8 } } },
  });
  const root = join(work, 'capped');
  const m = manager(root);
  const job = m.start(create(JobSpecSchema, spec(6n)), { configSha256: 'x', dataFiles: [], trainerVersion: 'test' });
  const first = await untilDone(m, job);
  assert.deepEqual(trainedSteps(first), [1, 2, 3, 4, 5, 6]);
  assert.equal(job.progress?.totalSteps, 6n);
  assert.equal(Number(job.lastCheckpoint!.step), 6);
  const store = CheckpointStore.open(join(root, 'checkpoints'));
  const capVersion = store.latest(job.id)!;
  const saved = readTrainerState(store, job.id, capVersion);
  assert.deepEqual([saved.state.stage, saved.state.stageStep], [1, 2], 'the cap fell mid-stage 2');
  assert.equal(saved.stageSamples?.responses.length, 32, 'the cap checkpoint holds the stage\'s 16 × 2 negatives');
  assert.ok(saved.buffers.reference, 'and its reference');
  const capSha = job.lastCheckpoint!.sha256;

  // Resumed at the cap: nothing more to train.
  m.resume(job);
  const second = (await untilDone(m, job)).slice(first.length);
  assert.deepEqual(trainedSteps(second), [], 'no step after the cap');
  assert.equal(pushes(second), 0, 'no regeneration');
  assert.equal(store.latest(job.id), capVersion, 'no new checkpoint');
  assert.equal(job.lastCheckpoint!.sha256, capSha);
  assert.ok(logs(second).some((l) => l.includes('nothing left to train')), logs(second).join(' | '));

  // ResumeJob with a raised max_steps (as TrainerService.resumeJob sets it): the cut stage continues.
  job.spec!.hyperparameters!.maxSteps = 8n;
  m.resume(job);
  const before = first.length + second.length;
  const third = (await untilDone(m, job)).slice(before);
  assert.deepEqual(trainedSteps(third), [7, 8]);
  assert.equal(pushes(third), 0, 'the stored k·part negatives were used, not regenerated');
  assert.equal(job.progress?.totalSteps, 8n);

  const control = manager(join(work, 'uncapped'));
  const whole = control.start(create(JobSpecSchema, spec(0n)), { configSha256: 'x', dataFiles: [], trainerVersion: 'test' });
  assert.deepEqual(trainedSteps(await untilDone(control, whole)), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(job.lastCheckpoint!.sha256, whole.lastCheckpoint!.sha256, 'capped + raised = uninterrupted, bit for bit');
});
