// A serving role assembles a push in shared memory (its worker threads take the version without a
// structured clone) and reports where the receive spent its time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WeightDeltaMode } from '@juice/proto';
import { acceptWeightPush, applyDelta, pushTimingFields, receiveWeights, VersionedWeights, weightChunks, type PushTimings, type TensorMap } from '../src/index.js';

const tensors = new Map([
  ['a', { shape: [4, 3], data: Float32Array.from({ length: 12 }, (_, i) => i / 7) }],
  ['b', { shape: [5], data: Float32Array.from({ length: 5 }, (_, i) => -1 - i) }],
]);
const expected = new Map([...tensors].map(([n, t]) => [n, t.shape]));
const stream = async function* <T>(xs: Iterable<T>) {
  yield* xs;
};

test('shared: every tensor is assembled in a SharedArrayBuffer, values exact; timings are reported', async () => {
  const got = await receiveWeights(stream(weightChunks(tensors, { version: 1n, chunkBytes: 1024 })), { expected, heldVersions: [0n], shared: true });
  for (const [n, t] of tensors) {
    assert.ok(got.tensors.get(n)!.buffer instanceof SharedArrayBuffer, n);
    assert.deepEqual([...got.tensors.get(n)!], [...t.data]);
  }
  for (const k of ['waitMs', 'checksumMs', 'decodeMs'] as const) assert.ok(got.timings[k] >= 0 && Number.isFinite(got.timings[k]), k);
  const plain = await receiveWeights(stream(weightChunks(tensors, { version: 1n })), { expected, heldVersions: [0n] });
  assert.ok(!(plain.tensors.get('a')!.buffer instanceof SharedArrayBuffer), 'unshared unless asked');
  // An ADD delta's sums live in the same kind of memory as the delta.
  const delta = await receiveWeights(stream(weightChunks(new Map([['b', tensors.get('b')!]]), { version: 2n, deltaMode: WeightDeltaMode.ADD, baseVersion: 1n })), { expected, heldVersions: [1n], shared: true });
  const sum = applyDelta(got.tensors, delta).get('b')!;
  assert.ok(sum.buffer instanceof SharedArrayBuffer);
  assert.deepEqual([...sum], [-2, -4, -6, -8, -10]);
});

test('acceptWeightPush serves shared tensors and tells the time split of the push', async () => {
  const weights = new VersionedWeights<TensorMap>(new Map());
  let served: TensorMap | undefined;
  let timings: PushTimings | undefined;
  const res = await acceptWeightPush(weights, stream(weightChunks(tensors, { version: 1n })), { expected, serve: async (_v, w) => void (served = w), onTimings: (t) => (timings = t) });
  assert.equal(res.activated, true);
  assert.ok(served!.get('a')!.buffer instanceof SharedArrayBuffer);
  assert.equal(timings!.version, 1n);
  assert.equal(timings!.bytes, BigInt((12 + 5) * 4));
  assert.ok(timings!.totalMs >= timings!.decodeMs + timings!.checksumMs);
  const fields = pushTimingFields(timings!);
  assert.deepEqual(Object.keys(fields), ['version', 'bytes', 'wait_ms', 'checksum_ms', 'decode_ms', 'install_ms', 'serve_ms', 'total_ms']);
  assert.equal(JSON.parse(JSON.stringify(fields)).bytes, 68, 'plain numbers, loggable as JSON');
});
