// Non-finite weights are refused: NaN/±Inf in a FULL or delta push (any wire dtype, any chunk), and an
// ADD delta whose sum with its base overflows float32. The message names the tensor and the first bad
// element; nothing is installed and the active version keeps serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Dtype, WeightDeltaMode, type WeightChunk } from '@juice/proto';
import { acceptWeightPush, applyDelta, firstNonFinite, FLOAT_WIRE_DTYPES, receiveWeights, VersionedWeights, weightChunks, WeightPushError, type PushTensor, type TensorMap } from '../src/index.js';

const SHAPES = new Map<string, readonly number[]>([
  ['model.embed_tokens.weight', [50, 16]],
  ['model.layers.0.mlp.up_proj.weight', [32, 16]],
  ['model.norm.weight', [16]],
]);
function model(): Map<string, PushTensor> {
  return new Map([...SHAPES].map(([n, shape], k) => [n, { shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i + k)) }]));
}
async function* stream(chunks: Iterable<WeightChunk>) {
  yield* chunks;
}
async function refused(p: Promise<unknown> | (() => unknown), code: string, text: RegExp) {
  const check = (e: unknown) => {
    assert.ok(e instanceof WeightPushError, String(e));
    assert.equal(e.grpcCode, code, e.message);
    assert.match(e.message, text);
    return true;
  };
  if (typeof p === 'function') assert.throws(p, check);
  else await assert.rejects(p, check);
}
const receive = (m: Map<string, PushTensor>, o: Parameters<typeof weightChunks>[1], held = [0n]) => receiveWeights(stream(weightChunks(m, o)), { expected: SHAPES, heldVersions: held });

test('firstNonFinite finds NaN and ±Inf only (not -0, subnormals or the largest float32)', () => {
  const ok = Float32Array.from([0, -0, 1e-45, -1e-45, 3.4028234663852886e38, -3.4028234663852886e38, 1]);
  assert.equal(firstNonFinite(ok), -1);
  for (const bad of [NaN, Infinity, -Infinity]) {
    const a = Float32Array.from([...ok, bad, NaN]);
    assert.equal(firstNonFinite(a), ok.length, String(bad));
    assert.equal(firstNonFinite(a, 0, ok.length), -1, 'the range end is exclusive');
  }
});

test('a FULL push holding NaN, +Inf or -Inf is refused naming the tensor, the element and its coordinates', async () => {
  for (const [bad, shown] of [[NaN, 'NaN'], [Infinity, '\\+Inf'], [-Infinity, '-Inf']] as const) {
    const m = model();
    m.get('model.layers.0.mlp.up_proj.weight')!.data[5 * 16 + 3] = bad;
    await refused(receive(m, { version: 1n }), 'INVALID_ARGUMENT', new RegExp(`tensor "model\\.layers\\.0\\.mlp\\.up_proj\\.weight" element 83 \\(index \\[5, 3\\] of shape \\[32, 16\\]\\) is ${shown} in chunk 0`));
  }
});

test('the bad element is found in whichever chunk and piece carries it, for every wire dtype', async () => {
  for (const dtype of FLOAT_WIRE_DTYPES) {
    const m = model();
    m.get('model.embed_tokens.weight')!.data[799] = NaN; // the last element, in a later chunk
    const chunks = [...weightChunks(m, { version: 1n, dtype, chunkBytes: 1024 })];
    assert.ok(chunks.length > 2, `${chunks.length} chunks`);
    await refused(receiveWeights(stream(chunks), { expected: SHAPES, heldVersions: [0n] }), 'INVALID_ARGUMENT', new RegExp(`"model\\.embed_tokens\\.weight" element 799 \\(index \\[49, 15\\] .*is NaN in chunk [1-9]\\d* `));
  }
  // A finite float32 value beyond float16's range arrives as +Inf when sent as FLOAT16: refused too.
  const m = model();
  m.get('model.norm.weight')!.data[2] = 70000;
  await refused(receive(m, { version: 1n, dtype: Dtype.FLOAT16 }), 'INVALID_ARGUMENT', /"model\.norm\.weight" element 2 .*is \+Inf/);
  // The same push as FLOAT32 is fine.
  assert.equal((await receive(m, { version: 1n })).tensors.get('model.norm.weight')![2], 70000);
});

test('delta pushes: a non-finite REPLACE or ADD tensor is refused; an ADD whose sum overflows float32 is refused', async () => {
  const nanDelta = new Map([['model.norm.weight', { shape: [16], data: new Float32Array(16).fill(0.5) }]]);
  nanDelta.get('model.norm.weight')!.data[9] = NaN;
  for (const deltaMode of [WeightDeltaMode.REPLACE, WeightDeltaMode.ADD]) {
    await refused(receive(nanDelta, { version: 2n, deltaMode, baseVersion: 0n }), 'INVALID_ARGUMENT', /"model\.norm\.weight" element 9 .*is NaN/);
  }
  // Finite base, finite delta, infinite sum.
  const base = new Map([...model()].map(([n, t]) => [n, t.data]));
  base.get('model.norm.weight')![4] = 3e38;
  base.get('model.norm.weight')![6] = -3e38;
  const big = new Map([['model.norm.weight', { shape: [16], data: new Float32Array(16).fill(3e38) }]]);
  const add = await receive(big, { version: 2n, deltaMode: WeightDeltaMode.ADD, baseVersion: 0n });
  await refused(() => applyDelta(base, add, SHAPES), 'INVALID_ARGUMENT', /"model\.norm\.weight" element 4 \(index \[4\] of shape \[16\]\) is \+Inf in base version 0 \+ the ADD delta \(the sum overflows float32\)/);
  // Without shapes the message still names the element.
  await refused(() => applyDelta(base, add), 'INVALID_ARGUMENT', /"model\.norm\.weight" element 4 is \+Inf/);
  // A large but representable sum is accepted (6 holds -3e38 + 3e38 = 0).
  base.get('model.norm.weight')![4] = 0;
  assert.equal(applyDelta(base, add, SHAPES).get('model.norm.weight')![6], 0);
});

test('acceptWeightPush (generator and reward model): a refused push installs nothing and serves nothing', async () => {
  const start = new Map([...model()].map(([n, t]) => [n, t.data])) as TensorMap;
  const held = new VersionedWeights<TensorMap>(start, 'loaded');
  const served: bigint[] = [];
  const accept = (chunks: Iterable<WeightChunk>) => acceptWeightPush(held, stream(chunks), { expected: SHAPES, serve: async (v) => void served.push(v) });

  const nan = model();
  nan.get('model.norm.weight')!.data[0] = NaN;
  await refused(accept(weightChunks(nan, { version: 1n })), 'INVALID_ARGUMENT', /"model\.norm\.weight" element 0 .*is NaN/);
  await refused(accept(weightChunks(nan, { version: 1n, stageOnly: true })), 'INVALID_ARGUMENT', /is NaN/);
  const overflow = new Map([['model.norm.weight', { shape: [16], data: new Float32Array(16).fill(3.4e38) }]]);
  start.get('model.norm.weight')![11] = 3.4e38;
  await refused(accept(weightChunks(overflow, { version: 1n, deltaMode: WeightDeltaMode.ADD, baseVersion: 0n })), 'INVALID_ARGUMENT', /element 11 .*overflows/);
  assert.equal(held.active.number, 0n);
  assert.equal(held.active.weights, start);
  assert.equal(held.staged, undefined);
  assert.deepEqual(served, []);

  // The next good push is taken as usual (the refusals left no push in progress).
  const ok = await accept(weightChunks(model(), { version: 1n }));
  assert.equal(ok.acceptedVersion?.number, 1n);
  assert.deepEqual(served, [1n]);
});
