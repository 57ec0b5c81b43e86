// The evaluator (its own process) evaluates a live generator (its own process) on juice's synthetic
// tasks, registered from a directory of task files: the run streams progress and per-task results and
// ends with a report of every kind's metrics as JSON and a self-contained HTML page.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSyntheticDatasets } from '@juice/data';
import { createDefaultModel } from '@juice/models';
import { EvaluatorService, RunState, type WatchRunResponse } from '@juice/proto';
import { createClient } from '@juice/service-kit';
import { startRole, type RunningRole } from '../support/spawn-service.js';

const work = mkdtempSync(join(tmpdir(), 'juice-eval-'));
let generator: RunningRole;
let evaluator: RunningRole;
let client: ReturnType<typeof createClient<typeof EvaluatorService>>;
let taskNames: string[] = [];
before(async () => {
  const data = await writeSyntheticDatasets(join(work, 'data'), { seed: 5, trainSize: 50, evalSize: 12 });
  const model = join(work, 'model');
  createDefaultModel(model, { corpus: data.tokenizerCorpus, seed: 1 });
  generator = await startRole('generator', ['--model', model]);
  evaluator = await startRole('evaluator', ['--tasks-dir', join(work, 'data', 'tasks')]);
  client = createClient(EvaluatorService, evaluator.address);
  taskNames = (await client.listTasks({})).tasks.map((t) => t.name);
});
after(async () => {
  client.close();
  await Promise.all([evaluator.stop(), generator.stop()]);
});

test('registered tasks run against a live generator and produce JSON and HTML reports', async () => {
  assert.ok(taskNames.length >= 3, `tasks: ${taskNames}`);
  const { runId } = await client.evaluate({ target: { kind: { case: 'generatorAddress', value: generator.address } }, tasks: taskNames.map((n) => ({ kind: { case: 'name', value: n } })), limit: 8, batchSize: 8 });
  const events: WatchRunResponse[] = [];
  for await (const e of client.watchRun({ runId, fromBeginning: true })) events.push(e);
  const states = events.flatMap((e) => (e.event.case === 'state' ? [e.event.value] : []));
  assert.equal(states.at(-1), RunState.SUCCEEDED, JSON.stringify(events.filter((e) => e.event.case === 'error').map((e) => e.event.value)));
  assert.ok(events.some((e) => e.event.case === 'progress'));
  assert.equal(events.filter((e) => e.event.case === 'taskResult').length, taskNames.length);
  const report = await client.getReport({ runId, includeHtml: true });
  assert.equal(report.results.length, taskNames.length);
  for (const r of report.results) {
    assert.equal(Number(r.numDocs), 8, r.task);
    for (const v of Object.values(r.metrics)) assert.ok(Number.isFinite(v), `${r.task} metrics ${JSON.stringify(r.metrics)}`);
    assert.match(r.dataSha256, /^[0-9a-f]{64}$/);
  }
  const metrics = report.metrics as Record<string, Record<string, unknown>>;
  for (const n of taskNames) assert.ok(metrics[n], `report JSON has ${n}`);
  assert.match(report.html, /<svg/);
  assert.ok(!/https?:\/\//.test(report.html.replace(/xmlns="[^"]*"/g, '')), 'self-contained');
  assert.equal((await client.listRuns({})).runs[0]?.runId, runId);
});
