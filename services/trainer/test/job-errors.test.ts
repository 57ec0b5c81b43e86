// One status-error type from the libraries to the job record: whatever a runner throws (a library's
// StatusError subclass, service-kit's ServiceError, a peer's numeric gRPC status, a plain bug) becomes
// Job.error through one mapping, and stops carry typed reasons (shutdown keeps the job RUNNING, cancel
// ends it CANCELLED, timeout FAILED with DEADLINE_EXCEEDED) instead of compared message strings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { CheckpointError } from '@juice/checkpoint';
import { ModelLoadError } from '@juice/models';
import { Algorithm, JobSpecSchema, JobState, StatusError, type Job } from '@juice/proto';
import { failedPrecondition, invalidArgument, ServiceError } from '@juice/service-kit';
import { WeightPushError } from '@juice/weight-sync';
import { JobAbort } from '../src/job-abort.js';
import { jobErrorOf, JobManager, type JobRunner } from '../src/job-manager.js';
import { JobStore } from '../src/job-store.js';
import { irftRunner } from '../src/runners/irft-runner.js';

const quiet = { info() {}, warn() {}, error() {} };

test('every error convention maps to the job error by its status', () => {
  const cases: [unknown, string, boolean][] = [
    [new CheckpointError('NOT_FOUND', 'no such version'), 'NOT_FOUND', false],
    [new ModelLoadError('INVALID_ARGUMENT', 'bad config.json'), 'INVALID_ARGUMENT', false],
    [new WeightPushError('ABORTED', 'superseded'), 'ABORTED', true],
    [invalidArgument('spec.model.hf_dir', 'no such directory'), 'INVALID_ARGUMENT', false],
    [failedPrecondition('needs a generator'), 'FAILED_PRECONDITION', false],
    [Object.assign(new Error('connect ECONNREFUSED'), { code: 14, details: 'No connection established' }), 'UNAVAILABLE', true],
    [Object.assign(new Error('legacy'), { grpcCode: 'DATA_LOSS', retryable: false }), 'DATA_LOSS', false],
    [new TypeError('x is undefined'), 'INTERNAL', true],
  ];
  for (const [e, code, retryable] of cases) {
    const d = jobErrorOf(e);
    assert.equal(d.code, code, String(e));
    assert.equal(d.retryable, retryable, String(e));
  }
  // ServiceError is the one StatusError type too.
  assert.ok(invalidArgument('f', 'p') instanceof StatusError && invalidArgument('f', 'p') instanceof ServiceError);
});

async function finished(m: JobManager, job: Job): Promise<Job> {
  for await (const e of m.watch(job, { fromBeginning: true, afterSequence: 0n, omitLogs: true, signal: new AbortController().signal })) void e;
  return job;
}

test('an IRFT job without a generator fails FAILED_PRECONDITION (not INTERNAL)', async () => {
  const root = mkdtempSync(join(tmpdir(), 'juice-errors-'));
  const m = new JobManager(new JobStore(root), { [Algorithm.IRFT]: irftRunner() }, quiet);
  const job = await finished(m, m.start(create(JobSpecSchema, { algorithm: Algorithm.IRFT }), { configSha256: 'x', dataFiles: [], trainerVersion: 'test' }));
  assert.equal(job.state, JobState.FAILED);
  assert.equal(job.error?.code, 'FAILED_PRECONDITION');
  assert.match(job.error!.message, /generator/);
});

test('a bad model source fails by its status (NOT_FOUND / INVALID_ARGUMENT), not INTERNAL', async () => {
  const root = mkdtempSync(join(tmpdir(), 'juice-errors-'));
  const runner: JobRunner = async () => {
    throw new ModelLoadError('NOT_FOUND', 'spec.model.hf_dir: no config.json');
  };
  const m = new JobManager(new JobStore(root), { [Algorithm.SFT]: runner }, quiet);
  const job = await finished(m, m.start(create(JobSpecSchema, { algorithm: Algorithm.SFT }), { configSha256: 'x', dataFiles: [], trainerVersion: 'test' }));
  assert.equal(job.error?.code, 'NOT_FOUND');
  assert.equal(job.error?.retryable, false);
});

test('stops carry typed reasons: cancel ends CANCELLED, shutdown leaves RUNNING, timeout fails DEADLINE_EXCEEDED', async () => {
  const root = mkdtempSync(join(tmpdir(), 'juice-errors-'));
  // A runner that waits for its signal, then throws what an aborted loop throws.
  const waiting: JobRunner = (ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true }));
  const m = new JobManager(new JobStore(root), { [Algorithm.SFT]: waiting }, quiet);
  const spec = () => create(JobSpecSchema, { algorithm: Algorithm.SFT });
  const init = { configSha256: 'x', dataFiles: [], trainerVersion: 'test' };

  const cancelled = m.start(spec(), init);
  m.cancel(cancelled, 'trainer shutting down'); // the message alone must not make it a shutdown
  await finished(m, cancelled);
  assert.equal(cancelled.state, JobState.CANCELLED);

  const shut = m.start(spec(), init);
  await m.stopAll();
  assert.equal(new JobStore(root).loadAll(() => {}).find((j) => j.id === shut.id)!.state, JobState.RUNNING);

  const m2 = new JobManager(new JobStore(root), { [Algorithm.SFT]: waiting }, quiet);
  const timed = m2.start(spec(), init);
  m2.abort(timed, new JobAbort('timeout', 'job exceeded its time limit'));
  await finished(m2, timed);
  assert.equal(timed.state, JobState.FAILED);
  assert.equal(timed.error?.code, 'DEADLINE_EXCEEDED');
  assert.equal(timed.error?.retryable, true);
  await m2.stopAll();
});
