// An evaluator with --runs-dir keeps its runs across restarts: a finished checkpoint run is listed,
// reported and replayed by the next process exactly as before; a run the process was killed in the
// middle of comes back FAILED, saying the evaluator restarted, with the tasks it had finished.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSyntheticDatasets } from '@juice/data';
import { createDefaultModel } from '@juice/models';
import { EvaluatorService, RunState } from '@juice/proto';
import { createClient } from '@juice/service-kit';
import { startRole, type RunningRole } from '../support/spawn-service.js';

const work = mkdtempSync(join(tmpdir(), 'juice-eval-restart-'));
const model = join(work, 'model');
const args = () => ['--tasks-dir', join(work, 'data', 'tasks'), '--runs-dir', join(work, 'runs')];
let evaluator: RunningRole;
let client: ReturnType<typeof createClient<typeof EvaluatorService>>;

async function restart(signal: NodeJS.Signals): Promise<void> {
  client.close();
  await evaluator.stop(signal);
  evaluator = await startRole('evaluator', args());
  client = createClient(EvaluatorService, evaluator.address);
}

before(async () => {
  const data = await writeSyntheticDatasets(join(work, 'data'), { seed: 5, trainSize: 40, evalSize: 40 });
  createDefaultModel(model, { corpus: data.tokenizerCorpus, seed: 1 });
  evaluator = await startRole('evaluator', args());
  client = createClient(EvaluatorService, evaluator.address);
});
after(async () => {
  client.close();
  await evaluator.stop();
});

const target = { kind: { case: 'model' as const, value: { kind: { case: 'hfDir' as const, value: model } } } };

test('finished runs survive a restart; an interrupted run comes back FAILED with its finished tasks', async () => {
  const { runId } = await client.evaluate({ target, tasks: [{ kind: { case: 'name', value: 'synthetic_ppl' } }, { kind: { case: 'name', value: 'synthetic_mc' } }], limit: 4, name: 'kept', requestId: 'req-1', logSamples: 2 });
  for await (const _ of client.watchRun({ runId })) void _;
  const before = await client.getReport({ runId, includeSamples: true });
  assert.equal(before.run?.state, RunState.SUCCEEDED);
  const eventsBefore = [];
  for await (const e of client.watchRun({ runId, fromBeginning: true })) eventsBefore.push(e);

  await restart('SIGTERM');
  const after = await client.getReport({ runId, includeSamples: true, includeHtml: true });
  assert.equal(after.run?.state, RunState.SUCCEEDED);
  assert.equal(after.run?.name, 'kept');
  assert.deepEqual(after.results, before.results, 'results, metrics and samples as they were');
  assert.deepEqual(after.metrics, before.metrics);
  assert.match(after.html, /synthetic_mc/);
  const replay = [];
  for await (const e of client.watchRun({ runId, fromBeginning: true })) replay.push(e);
  assert.deepEqual(replay, eventsBefore, 'the event history replays unchanged');
  assert.equal((await client.evaluate({ target, tasks: [{ kind: { case: 'name', value: 'synthetic_ppl' } }], requestId: 'req-1' })).runId, runId, 'request ids still deduplicate');

  // Killed mid-run: the first task finishes, then the process dies in the second (40 generations, one at a time).
  const long = await client.evaluate({ target, tasks: [{ kind: { case: 'name', value: 'synthetic_ppl' } }, { kind: { case: 'name', value: 'synthetic_gen' }, limit: 40 }], limit: 4, batchSize: 1 });
  for await (const e of client.watchRun({ runId: long.runId, fromBeginning: true })) if (e.event.case === 'taskResult') break;
  await restart('SIGKILL');
  const interrupted = await client.getReport({ runId: long.runId });
  assert.equal(interrupted.run?.state, RunState.FAILED);
  assert.equal(interrupted.run?.error?.code, 'UNAVAILABLE');
  assert.match(interrupted.run!.error!.message, /restarted/);
  assert.deepEqual(interrupted.results.map((r) => r.task), ['synthetic_ppl']);
  const listed = (await client.listRuns({})).runs.map((r) => r.runId);
  assert.deepEqual(listed, [long.runId, runId]);
  // And the restarted evaluator evaluates.
  const again = await client.evaluate({ target, tasks: [{ kind: { case: 'name', value: 'synthetic_ppl' } }], limit: 2 });
  let state = RunState.UNSPECIFIED;
  for await (const e of client.watchRun({ runId: again.runId, fromBeginning: true })) if (e.event.case === 'state') state = e.event.value;
  assert.equal(state, RunState.SUCCEEDED);
});
