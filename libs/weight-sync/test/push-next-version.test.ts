// pushNextVersion: the one client-side "next version = served + 1, push" every trainer caller uses,
// against a fake target that records the chunks (any WeightTarget, e.g. a pool, fits the interface).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { WeightChunk } from '@juice/proto';
import { pushNextVersion } from '@juice/weight-sync';

test('pushes the named tensors as the served version + 1, chunked as asked', async () => {
  const got: WeightChunk[] = [];
  const target = {
    getWeightVersion: async () => ({ active: { number: 41n } }),
    pushWeights: async (chunks: Iterable<WeightChunk>) => {
      for (const c of chunks) got.push(c);
      return { bytes: BigInt(got.reduce((n, c) => n + c.tensors.reduce((m, t) => m + t.data.byteLength, 0), 0)) };
    },
  };
  const tensors = new Map([['w', { shape: [1024], data: new Float32Array(1024).fill(1) }]]);
  const r = await pushNextVersion(target, tensors, { label: 'job/stage0', chunkBytes: 1024 });
  assert.equal(r.version, 42n);
  assert.equal(got[0]!.header!.version!.number, 42n);
  assert.equal(got[0]!.header!.version!.label, 'job/stage0');
  assert.equal(r.bytes, 4096n);
  assert.equal(got.length, 4, '4 KiB in 1 KiB chunks');
});
