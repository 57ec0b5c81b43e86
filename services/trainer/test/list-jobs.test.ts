// ListJobs through the Trainer service implementation, in process: a job keeps the name and labels it
// was started with (hashing the config must not blank them on the spec), and the label filter selects
// by them. The runner never trains; it only waits to be stopped, so the test needs no model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { Algorithm, DataSchema, JobSpecSchema, ListJobsRequestSchema, ListJobsResponseSchema, StartJobRequestSchema, StartJobResponseSchema, type Job } from '@juice/proto';
import { JobManager, type JobRunner } from '../src/job-manager.js';
import { JobStore } from '../src/job-store.js';
import { configSha256, createTrainerService } from '../src/trainer-service.js';

const quiet = { info() {}, warn() {}, error() {} };
const idle: JobRunner = (ctx) => new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));

test('ListJobs returns each job with its name and labels, and filters by label', async () => {
  const root = mkdtempSync(join(tmpdir(), 'juice-listjobs-'));
  const data = join(root, 'demos.jsonl');
  writeFileSync(data, JSON.stringify({ prompt: 'What is 1+1?', completion: ' 2' }) + '\n');
  const manager = new JobManager(new JobStore(root), { [Algorithm.SFT]: idle }, quiet);
  const svc = createTrainerService(manager);
  const ctx = { signal: new AbortController().signal } as Parameters<NonNullable<typeof svc.startJob>>[1];
  const spec = (name: string, team: string): MessageInitShape<typeof JobSpecSchema> => ({
    name,
    labels: { team, purpose: 'listing' },
    algorithm: Algorithm.SFT,
    datasets: [{ path: data, schema: DataSchema.PROMPT_COMPLETION }],
  });
  try {
    const started: Job[] = [];
    for (const [name, team] of [['alpha', 'red'], ['beta', 'blue'], ['gamma', 'red']]) {
      const req = create(StartJobRequestSchema, { spec: spec(name, team) });
      const { job } = create(StartJobResponseSchema, await svc.startJob!(req, ctx));
      started.push(job!);
      assert.equal(req.spec!.name, name, 'StartJob leaves the request spec as it was');
      assert.deepEqual(req.spec!.labels, { team, purpose: 'listing' });
    }
    // Name and labels do not enter the config hash: two specs that differ only there hash alike.
    assert.equal(started[0].configSha256, started[1].configSha256);
    assert.equal(started[0].configSha256, configSha256(create(JobSpecSchema, spec('other', 'none'))));

    const list = async (labels: Record<string, string>): Promise<Job[]> =>
      create(ListJobsResponseSchema, await svc.listJobs!(create(ListJobsRequestSchema, { labels }), ctx)).jobs;
    const all = await list({});
    assert.deepEqual(all.map((j) => j.spec!.name).sort(), ['alpha', 'beta', 'gamma']);
    for (const j of all) assert.equal(j.spec!.labels.purpose, 'listing');

    assert.deepEqual((await list({ team: 'red' })).map((j) => j.spec!.name).sort(), ['alpha', 'gamma']);
    assert.deepEqual((await list({ team: 'blue', purpose: 'listing' })).map((j) => j.spec!.name), ['beta']);
    assert.deepEqual(await list({ team: 'green' }), []);

    // The stored records keep them too: a restarted trainer lists the same names.
    const reloaded = new JobStore(root).loadAll(() => {});
    assert.deepEqual(reloaded.map((j) => j.spec!.name).sort(), ['alpha', 'beta', 'gamma']);
  } finally {
    await manager.stopAll();
  }
});
