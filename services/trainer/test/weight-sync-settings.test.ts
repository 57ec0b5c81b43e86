// WeightSyncConfig → PoolWeights options (settings/weight-sync.ts): the proto's defaults, the chunk_bytes
// range at its edges, and every_n_steps refused where there is no policy or no generator to keep in sync.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { Algorithm, JobSpecSchema } from '@juice/proto';
import { MAX_CHUNK_BYTES, MIN_CHUNK_BYTES } from '@juice/weight-sync';
import { resolveWeightSync } from '../src/settings/weight-sync.js';

const spec = (s: MessageInitShape<typeof JobSpecSchema>) => create(JobSpecSchema, s);
const refused = (s: MessageInitShape<typeof JobSpecSchema>, code: number, field: RegExp) =>
  assert.throws(() => resolveWeightSync(spec(s)), (e: Error & { code?: number }) => e.code === code && field.test(e.message));

test('defaults: 4 MiB chunks (the chunker\'s default), 300 s, one-phase, full pushes, no periodic push', () => {
  assert.deepEqual(resolveWeightSync(spec({ algorithm: Algorithm.IRFT })), { push: { chunk: {}, twoPhase: false, delta: false, timeoutMs: 300_000 }, everyNSteps: 0 });
  assert.deepEqual(resolveWeightSync(spec({ algorithm: Algorithm.IRFT, weightSync: { chunkBytes: MIN_CHUNK_BYTES, twoPhase: true, delta: true, timeoutSeconds: 7, everyNSteps: 3n } })), {
    push: { chunk: { chunkBytes: MIN_CHUNK_BYTES }, twoPhase: true, delta: true, timeoutMs: 7000 },
    everyNSteps: 3,
  });
});

test('chunk_bytes outside 64 KiB..63 MiB is INVALID_ARGUMENT naming it', () => {
  for (const ok of [MIN_CHUNK_BYTES, MAX_CHUNK_BYTES]) assert.equal(resolveWeightSync(spec({ algorithm: Algorithm.SFT, weightSync: { chunkBytes: ok } })).push.chunk?.chunkBytes, ok);
  for (const bad of [1, MIN_CHUNK_BYTES - 1, MAX_CHUNK_BYTES + 1]) refused({ algorithm: Algorithm.SFT, weightSync: { chunkBytes: bad } }, 3, /spec\.weight_sync\.chunk_bytes/);
});

test('every_n_steps: SFT/DPO need spec.endpoints.generator (FAILED_PRECONDITION), REWARD_MODEL has no policy (INVALID_ARGUMENT)', () => {
  for (const algorithm of [Algorithm.SFT, Algorithm.DPO]) {
    refused({ algorithm, weightSync: { everyNSteps: 2n } }, 9, /spec\.weight_sync\.every_n_steps.*spec\.endpoints\.generator/);
    assert.equal(resolveWeightSync(spec({ algorithm, weightSync: { everyNSteps: 2n }, endpoints: { generator: ['127.0.0.1:1'] } })).everyNSteps, 2);
  }
  refused({ algorithm: Algorithm.REWARD_MODEL, weightSync: { everyNSteps: 2n } }, 3, /spec\.weight_sync\.every_n_steps/);
  // IRFT and RFT may use the trainer's --generator: their runners check for one.
  assert.equal(resolveWeightSync(spec({ algorithm: Algorithm.RFT, weightSync: { everyNSteps: 2n } })).everyNSteps, 2);
});
