// runEvaluation: order, progress, overrides, cancellation.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TaskKind } from '@juice/proto';
import { runEvaluation, runTask, taskDataFromRows, type RunProgressEvent } from '../src/index.js';
import { BigramModel } from './bigram-model.js';

const rows = Array.from({ length: 10 }, (_, i) => ({ text: `w${i} w${i + 1}` }));
const data = taskDataFromRows(rows, { split: '', maxRows: 0n }, '');
const model = new BigramModel({ '<s>': { w0: 0.5 } });

test('tasks run in order with monotone progress; per-task limit overrides the run limit', async () => {
  const events: RunProgressEvent[] = [];
  const done: string[] = [];
  const results = await runEvaluation(
    [
      { task: { name: 'a', kind: TaskKind.PERPLEXITY }, data },
      { task: { name: 'b', kind: TaskKind.PERPLEXITY }, data, limit: 3 },
    ],
    model,
    { limit: 7, batchSize: 2, onProgress: (p) => events.push(p), onTaskResult: (r) => done.push(r.task) },
  );
  assert.deepEqual(done, ['a', 'b']);
  assert.deepEqual(results.map((r) => r.numDocs), [7n, 3n]);
  const fractions = events.map((e) => e.fraction);
  assert.deepEqual(fractions, [...fractions].sort((x, y) => x - y));
  assert.equal(fractions.at(-1), 1);
  assert.deepEqual(events.filter((e) => e.task === 'a').map((e) => e.docsDone), [0, 2, 4, 6, 7]);
});

test('cancellation rejects between batches; failures name the task', async () => {
  const ac = new AbortController();
  const run = runTask({ name: 'c', kind: TaskKind.PERPLEXITY }, model, {
    data,
    batchSize: 1,
    signal: ac.signal,
    onProgress: (d) => d === 2 && ac.abort(new Error('stop')),
  });
  await assert.rejects(run, /stop/);
  await assert.rejects(runEvaluation([{ name: 'bad name!', kind: TaskKind.PERPLEXITY }], model), /task "bad name!" \(1\/1\): task.name/);
  await assert.rejects(runTask({ name: 'mc', kind: TaskKind.MULTIPLE_CHOICE, docToText: 'text' }, model, { data }), /doc_to_choice/);
});
