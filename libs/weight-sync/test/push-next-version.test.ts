// pushNextVersion: the one client-side push every trainer caller uses, "next version = newest held + 1",
// through PoolWeights over a single fake target (oneReplica) that records the chunks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { WeightChunk } from '@juice/proto';
import { oneReplica, PoolWeights, pushNextVersion } from '@juice/weight-sync';

test('pushes the named tensors as the newest held version + 1, chunked as asked, activated on arrival when one-phase', async () => {
  const got: WeightChunk[] = [];
  let activates = 0;
  const replica = {
    getWeightVersion: async () => ({ active: { number: 41n }, staged: { number: 40n } }),
    pushWeights: async (chunks: Iterable<WeightChunk>) => {
      for (const c of chunks) got.push(c);
      return { bytes: BigInt(got.reduce((n, c) => n + c.tensors.reduce((m, t) => m + t.data.byteLength, 0), 0)), activated: true };
    },
    activateWeights: async () => {
      activates++;
      return {};
    },
  };
  const tensors = new Map([['w', { shape: [1024], data: new Float32Array(1024).fill(1) }]]);
  const r = await pushNextVersion(new PoolWeights({ chunk: { chunkBytes: 1024 }, twoPhase: false }).target(oneReplica(replica)), tensors, { label: 'job/stage0' });
  assert.equal(r.version, 42n);
  assert.equal(r.replicas, 1);
  assert.equal(got[0]!.header!.version!.number, 42n);
  assert.equal(got[0]!.header!.version!.label, 'job/stage0');
  assert.equal(got[0]!.header!.stageOnly, false);
  assert.equal(activates, 0);
  assert.equal(r.bytes, 4096n);
  assert.equal(got.length, 4, '4 KiB in 1 KiB chunks');
});
