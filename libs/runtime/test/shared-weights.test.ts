// Weights pushed to a serving role arrive in a SharedArrayBuffer (no structured clone to each worker).
// ORT refuses shared memory, so the worker copies them into its own, into the array pinned before when
// it fits: these tests hold that copy to the pin's order semantics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkerSession } from '../src/index.js';
import { ownCopy } from '../src/shared-feeds.js';
import { addFixture } from './fixtures/models.js';

const sharedOf = (values: number[], pad = 0) => {
  const a = new Float32Array(new SharedArrayBuffer((values.length + 2 * pad) * 4));
  a.set(values, pad);
  return a.subarray(pad, pad + values.length);
};
const sum = async (w: WorkerSession, run: Promise<Record<string, { data: unknown }>>) => [...((await run).Sum.data as Float32Array)];

test('shared weights are pinned and fed; a re-pin keeps the order of runs (earlier runs see the old values)', async () => {
  const w = await WorkerSession.create(addFixture());
  try {
    const x = { X: { data: new Float32Array([1, 1, 1, 1, 1, 1]), dims: [2, 3] } };
    await w.pin({ Y: { data: sharedOf([1, 2, 3, 4, 5, 6]), dims: [2, 3] } });
    assert.deepEqual(await sum(w, w.run(x, ['Sum'])), [2, 3, 4, 5, 6, 7]);
    // Posted without waiting: the run before the second pin still computes with the first values, although
    // the second pin's copy reuses the first pin's array.
    const before = w.run(x, ['Sum']);
    const repin = w.pin({ Y: { data: sharedOf([10, 20, 30, 40, 50, 60], 3), dims: [2, 3] } });
    const after = w.run(x, ['Sum']);
    await repin;
    assert.deepEqual(await sum(w, before), [2, 3, 4, 5, 6, 7]);
    assert.deepEqual(await sum(w, after), [11, 21, 31, 41, 51, 61]);
    // A shared run feed (not pinned) is taken too, and the caller's array is left as it was.
    const y = sharedOf([0, 0, 0, 0, 0, 7]);
    assert.deepEqual(await sum(w, w.run({ ...x, Y: { data: y, dims: [2, 3] } }, ['Sum'])), [1, 1, 1, 1, 1, 8]);
    assert.equal(y[5], 7);
  } finally {
    await w.close();
  }
});

test('ownCopy: unshared arrays pass through, shared ones are copied into a fitting array or a new one', () => {
  const plain = new Float32Array([1, 2]);
  assert.equal(ownCopy(plain), plain);
  const shared = sharedOf([3, 4]);
  const into = new Float32Array(2);
  assert.equal(ownCopy(shared, into), into);
  assert.deepEqual([...into], [3, 4]);
  for (const misfit of [new Float32Array(3), new Int32Array(2), sharedOf([0, 0]), undefined]) {
    const got = ownCopy(shared, misfit);
    assert.notEqual(got, misfit);
    assert.ok(!(got.buffer instanceof SharedArrayBuffer));
    assert.deepEqual([...got], [3, 4]);
  }
});
