import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clone, create } from '@bufbuild/protobuf';
import { Dtype, WeightChunkSchema, WeightDeltaMode, weightChunkSha256, type WeightChunk } from '@juice/proto';
import { applyDelta, receiveWeights, VersionedWeights, weightChunks, WeightPushError, type PushTensor } from '../src/index.js';

function model(seed = 1): Map<string, PushTensor> {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  const t = (shape: number[]) => ({ shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, rnd) });
  return new Map([
    ['model.embed_tokens.weight', t([50, 16])],
    ['model.layers.0.mlp.up_proj.weight', t([32, 16])],
    ['model.norm.weight', t([16])],
  ]);
}
const expected = new Map([...model()].map(([n, t]) => [n, t.shape]));
async function* stream(chunks: Iterable<WeightChunk>) {
  yield* chunks;
}
async function rejectsWith(p: Promise<unknown>, code: string, text: RegExp) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof WeightPushError, String(e));
    assert.equal(e.grpcCode, code, e.message);
    assert.match(e.message, text);
    return true;
  });
}

test('a float32 push round-trips exactly, split into many chunks and pieces', async () => {
  const m = model();
  const chunks = [...weightChunks(m, { version: 1n, chunkBytes: 1024 })];
  assert.ok(chunks.length > 5, `${chunks.length} chunks`);
  const got = await receiveWeights(stream(chunks), { expected, heldVersions: [0n] });
  for (const [name, t] of m) assert.deepEqual(got.tensors.get(name), t.data);
  assert.equal(got.bytes, BigInt((50 * 16 + 32 * 16 + 16) * 4));
});

test('bf16 and f16 pushes decode within their precision', async () => {
  const m = model();
  for (const [dtype, tol] of [[Dtype.BFLOAT16, 1 / 128], [Dtype.FLOAT16, 1 / 1024]] as const) {
    const got = await receiveWeights(stream(weightChunks(m, { version: 1n, dtype })), { expected, heldVersions: [0n] });
    for (const [name, t] of m) t.data.forEach((v, i) => assert.ok(Math.abs(got.tensors.get(name)![i]! - v) <= tol * Math.abs(v) + 1e-7, name));
  }
});

test('corrupt, misnamed, misshaped, incomplete and stale pushes are rejected with the contract status', async () => {
  const m = model();
  const good = [...weightChunks(m, { version: 2n, chunkBytes: 2048 })];
  // Checksum: flip one data byte.
  const flipped = good.map((c) => clone(WeightChunkSchema, c));
  flipped[1]!.tensors[0]!.data = Uint8Array.from(flipped[1]!.tensors[0]!.data, (b, i) => (i === 0 ? b ^ 1 : b));
  await rejectsWith(receiveWeights(stream(flipped), { expected, heldVersions: [0n] }), 'DATA_LOSS', /chunk 1: sha256 mismatch/);
  // Unknown tensor name.
  const bad = new Map(m);
  bad.set('model.layers.9.bogus', { shape: [2], data: new Float32Array(2) });
  await rejectsWith(receiveWeights(stream(weightChunks(bad, { version: 2n })), { expected, heldVersions: [0n] }), 'INVALID_ARGUMENT', /"model.layers.9.bogus": the model has no tensor/);
  // Wrong shape.
  const wrong = new Map(m);
  wrong.set('model.norm.weight', { shape: [8, 2], data: new Float32Array(16) });
  await rejectsWith(receiveWeights(stream(weightChunks(wrong, { version: 2n })), { expected, heldVersions: [0n] }), 'INVALID_ARGUMENT', /shape \[8, 2\] does not match the model's \[16\]/);
  // Stream cut short.
  await rejectsWith(receiveWeights(stream(good.slice(0, 2)), { expected, heldVersions: [0n] }), 'INVALID_ARGUMENT', /incomplete|total_tensors/);
  // Version not newer.
  await rejectsWith(receiveWeights(stream(good), { expected, heldVersions: [2n] }), 'INVALID_ARGUMENT', /must be greater than the version held \(2\)/);
  // Missing header, out-of-order sequence.
  const noHeader = create(WeightChunkSchema, { sequence: 0n, sha256: weightChunkSha256([]) });
  await rejectsWith(receiveWeights(stream([noHeader]), { expected, heldVersions: [0n] }), 'INVALID_ARGUMENT', /first chunk must carry the header/);
  await rejectsWith(receiveWeights(stream([good[0]!, good[2]!]), { expected, heldVersions: [0n] }), 'INVALID_ARGUMENT', /sequence 2: expected 1/);
  // A FULL push must be complete.
  const partial = new Map([...m].slice(0, 2));
  await rejectsWith(receiveWeights(stream(weightChunks(partial, { version: 2n })), { expected, heldVersions: [0n] }), 'INVALID_ARGUMENT', /missing 1: model.norm.weight/);
});

test('delta pushes: REPLACE and ADD apply to the held base, an unknown base is FAILED_PRECONDITION', async () => {
  const m = model();
  const base = new Map([...m].map(([n, t]) => [n, t.data]));
  const delta = new Map([['model.norm.weight', { shape: [16], data: new Float32Array(16).fill(0.5) }]]);
  const add = await receiveWeights(stream(weightChunks(delta, { version: 3n, deltaMode: WeightDeltaMode.ADD, baseVersion: 0n })), { expected, heldVersions: [0n] });
  const merged = applyDelta(base, add);
  assert.equal(merged.get('model.norm.weight')![3], Math.fround(m.get('model.norm.weight')!.data[3]! + 0.5));
  assert.equal(merged.get('model.embed_tokens.weight'), base.get('model.embed_tokens.weight'));
  await rejectsWith(
    receiveWeights(stream(weightChunks(delta, { version: 3n, deltaMode: WeightDeltaMode.REPLACE, baseVersion: 7n })), { expected, heldVersions: [0n] }),
    'FAILED_PRECONDITION',
    /base_version 7 is not held/,
  );
});

test('versioned weights: staged versions activate on request, requests keep the set they captured, pushes are exclusive', async () => {
  const v = new VersionedWeights('w0');
  const captured = v.active;
  v.install({ number: 1n, label: 'a', weights: 'w1' }, true);
  assert.equal(v.active.weights, 'w0');
  assert.deepEqual(v.heldVersions(), [0n, 1n]);
  v.activate(1n);
  assert.equal(v.active.weights, 'w1');
  assert.equal(captured.weights, 'w0');
  assert.throws(() => v.activate(5n), /version 5 is not staged/);
  let release!: () => void;
  const first = v.exclusivePush(() => new Promise<void>((r) => (release = r)));
  await rejectsWith(v.exclusivePush(async () => undefined), 'ABORTED', /another weight push/);
  release();
  await first;
});
