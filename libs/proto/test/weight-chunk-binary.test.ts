// The fast WeightChunk encoder must give exactly toBinary's bytes (so any protobuf reader, and the
// checksum over the decoded pieces, sees the same message).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { Dtype, WeightChunkSchema, WeightDeltaMode } from '../src/index.js';
import { encodeWeightChunk } from '../src/weight-chunk-binary.js';

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

test('encodeWeightChunk = toBinary byte for byte: header or not, defaults omitted, large and multi-byte varints', () => {
  const chunks = [
    create(WeightChunkSchema, {}),
    create(WeightChunkSchema, {
      sequence: 0n,
      sha256: 'ab'.repeat(32),
      header: { version: { number: 7n, label: 'stage 2 — é' }, totalTensors: 3, totalBytes: 1n << 40n, deltaMode: WeightDeltaMode.ADD, baseVersion: 6n, stageOnly: true },
      tensors: [
        { name: 'model.embed_tokens.weight', dtype: Dtype.FLOAT32, shape: [512n, 64n], data: bytes(300_000, 1), offset: 0n },
        { name: 'ü', dtype: Dtype.BFLOAT16, shape: [3n], data: bytes(6, 2), offset: 1n << 33n },
        { name: '', dtype: Dtype.UNSPECIFIED, shape: [], data: new Uint8Array(0), offset: 0n },
      ],
    }),
    create(WeightChunkSchema, { sequence: 300n, sha256: 'x', tensors: [{ name: 'n', dtype: Dtype.FLOAT16, shape: [1n, 2n, 0n], data: bytes(130, 3), offset: 127n }] }),
    create(WeightChunkSchema, { sequence: (1n << 64n) - 1n, tensors: [{ name: 'big', shape: [1n << 50n], data: bytes(1 << 21, 4) }] }),
  ];
  for (const [i, c] of chunks.entries()) {
    const want = toBinary(WeightChunkSchema, c);
    const got = encodeWeightChunk(c);
    assert.equal(got.byteLength, want.byteLength, `chunk ${i} length`);
    assert.ok(Buffer.from(got).equals(Buffer.from(want)), `chunk ${i} bytes`);
    assert.equal(fromBinary(WeightChunkSchema, got).tensors.length, c.tensors.length);
  }
});

test('a chunk with unknown fields is encoded by toBinary (which keeps them)', () => {
  const withUnknown = fromBinary(WeightChunkSchema, Uint8Array.from([...toBinary(WeightChunkSchema, create(WeightChunkSchema, { sequence: 2n })), 0xf8, 0x01, 0x05])); // field 31 = 5
  assert.equal(withUnknown.$unknown?.length, 1);
  assert.ok(Buffer.from(encodeWeightChunk(withUnknown)).equals(Buffer.from(toBinary(WeightChunkSchema, withUnknown))));
});
