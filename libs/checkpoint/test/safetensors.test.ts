import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, truncateSync, existsSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CheckpointError, loadHfDir, readSafetensors, saveHfDir, writeSafetensors } from '../src/index.js';

const dir = () => mkdtempSync(join(tmpdir(), 'juice-st-'));
const values = Float32Array.from([0, -0, 1, -2.5, 65504, 1e-7, 3.1415927, -1e30, Infinity, NaN, 6.1e-5, 5.96e-8]);

test('F32 round trip is exact; F16/BF16 hit the expected bit patterns (rounding, subnormals, inf, nan)', () => {
  const d = dir();
  const f = join(d, 'a.safetensors');
  writeSafetensors(f, [
    ['f32', { dtype: 'F32', shape: [values.length], data: values }],
    ['f16', { dtype: 'F16', shape: [values.length], data: values }],
    ['bf16', { dtype: 'BF16', shape: [values.length], data: values }],
    ['ids', { dtype: 'I64', shape: [2, 2], data: BigInt64Array.from([1n, -2n, 3n, 1n << 40n]) }],
  ], { format: 'pt' });
  const raw = readFileSync(f);
  const headerLen = Number(raw.readBigUInt64LE(0));
  assert.equal((8 + headerLen) % 8, 0, 'data section is 8-byte aligned');
  const { tensors, metadata } = readSafetensors(f);
  assert.equal(metadata.format, 'pt');
  assert.deepEqual(Array.from(tensors.get('f32')!.data as Float32Array), Array.from(values));
  const f16 = Array.from(tensors.get('f16')!.data as Float32Array);
  // 65504 is f16 max; 1e-7 is below the smallest f16 subnormal's half-way point → 1.19e-7 (subnormal 2^-23); -1e30 overflows to -inf.
  assert.deepEqual(f16.slice(0, 5), [0, -0, 1, -2.5, 65504]);
  assert.equal(f16[5], 2 ** -23 * 1); // 1e-7 rounds to the nearest subnormal, 2 × 2^-24
  assert.equal(f16[7], -Infinity);
  assert.equal(f16[8], Infinity);
  assert.ok(Number.isNaN(f16[9]));
  assert.equal(f16[11], 2 ** -24, 'smallest f16 subnormal');
  const bf16 = Array.from(tensors.get('bf16')!.data as Float32Array);
  assert.equal(bf16[6], 3.140625, 'pi rounds to nearest even in bf16');
  assert.equal(bf16[4], 65536);
  assert.deepEqual(Array.from(tensors.get('ids')!.data as BigInt64Array), [1n, -2n, 3n, 1n << 40n]);
});

test('corrupt files fail with DATA_LOSS naming the file and the tensor', () => {
  const d = dir();
  const f = join(d, 'b.safetensors');
  writeSafetensors(f, [['w', { dtype: 'F32', shape: [4, 4], data: new Float32Array(16) }]]);
  truncateSync(f, readFileSync(f).length - 10);
  assert.throws(() => readSafetensors(f), (e: unknown) => e instanceof CheckpointError && e.grpcCode === 'DATA_LOSS' && e.message.includes(f) && e.message.includes('"w"'));
  writeFileSync(f, Buffer.from([0xff, 0, 0, 0, 0, 0, 0, 0, 1, 2]));
  assert.throws(() => readSafetensors(f), /header length .* runs past the end/);
  // Shape/offset mismatch.
  const h = Buffer.from(JSON.stringify({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  writeFileSync(f, Buffer.concat([len, h, Buffer.alloc(8)]));
  assert.throws(() => readSafetensors(f), /tensor "x": shape \[3\] of F32 needs 12 bytes, data_offsets span 8/);
  assert.throws(() => readSafetensors(join(d, 'none.safetensors')), (e: unknown) => e instanceof CheckpointError && e.grpcCode === 'NOT_FOUND');
});

test('HF directory: single and sharded round trips, missing and misshaped tensors named', () => {
  const tensors = new Map([
    ['model.embed_tokens.weight', { shape: [10, 4], data: Float32Array.from({ length: 40 }, (_, i) => i / 7) }],
    ['model.norm.weight', { shape: [4], data: Float32Array.from([1, 2, 3, 4]) }],
    ['lm_head.weight', { shape: [10, 4], data: Float32Array.from({ length: 40 }, (_, i) => -i) }],
  ]);
  for (const maxShardBytes of [undefined, 200]) {
    const d = dir();
    saveHfDir(d, { config: { architectures: ['LlamaForCausalLM'] }, tensors, maxShardBytes });
    assert.equal(existsSync(join(d, 'model.safetensors.index.json')), maxShardBytes !== undefined);
    const loaded = loadHfDir(d, new Map([...tensors].map(([n, t]) => [n, t.shape])));
    for (const [n, t] of tensors) assert.deepEqual(loaded.tensors.get(n)!.data, t.data, n);
    assert.equal(loaded.config.torch_dtype, 'float32');
    assert.ok(loaded.files.every((f) => /^[0-9a-f]{64}$/.test(f.sha256)));
    if (maxShardBytes) {
      // A shard listed in the index but deleted.
      const index = JSON.parse(readFileSync(join(d, 'model.safetensors.index.json'), 'utf8')) as { weight_map: Record<string, string> };
      unlinkSync(join(d, index.weight_map['lm_head.weight']!));
      assert.throws(() => loadHfDir(d), /model-0000\d-of-0000\d\.safetensors \(listed in .*index.json\) is missing/);
    }
  }
  const d = dir();
  saveHfDir(d, { config: {}, tensors: [['model.norm.weight', { shape: [4], data: new Float32Array(4) }]] });
  assert.throws(
    () => loadHfDir(d, new Map([['model.norm.weight', [8]], ['lm_head.weight', [10, 4]]])),
    /tensor "model.norm.weight" in .*model.safetensors has shape \[4\], the config needs \[8\]; missing tensor "lm_head.weight"/,
  );
  assert.throws(() => loadHfDir(join(d, 'nope')), /does not exist/);
});

const torchOk = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { env: { ...process.env, OPENBLAS_CORETYPE: '', OPENBLAS_L2_SIZE: '' } }).status === 0;
test('a checkpoint written by juice reads in PyTorch by its HF tensor names', { skip: torchOk ? false : 'Debian python3-torch not installed (golden interop check)' }, () => {
  const d = dir();
  const w = Float32Array.from({ length: 12 }, (_, i) => (i - 5) / 3);
  saveHfDir(d, { config: {}, tensors: [['model.layers.0.mlp.up_proj.weight', { shape: [3, 4], data: w }]], dtype: 'bfloat16' });
  const script = fileURLToPath(new URL('./golden/read_with_torch.py', import.meta.url));
  const out = JSON.parse(execFileSync('/usr/bin/python3', [script, join(d, 'model.safetensors')], { encoding: 'utf8' })) as Record<string, { dtype: string; shape: number[]; sum: number; first: number[] }>;
  const t = out['model.layers.0.mlp.up_proj.weight']!;
  assert.equal(t.dtype, 'BF16');
  assert.deepEqual(t.shape, [3, 4]);
  const juice = readSafetensors(join(d, 'model.safetensors')).tensors.get('model.layers.0.mlp.up_proj.weight')!.data as Float32Array;
  assert.deepEqual(t.first, Array.from(juice.slice(0, 4)), 'torch decodes the bf16 bits to the same values juice does');
  assert.ok(Math.abs(t.sum - juice.reduce((a, b) => a + b, 0)) < 1e-9);
});
