import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CheckpointError, f16BitsToF32, bf16BitsToF32, f32ToBf16Bits, f32ToF16Bits, loadHfDir, readSafetensors, saveHfDir, writeSafetensors } from '../src/index.js';

const dir = () => mkdtempSync(join(tmpdir(), 'juice-hf-'));
const tensors = new Map([
  ['model.embed_tokens.weight', { shape: [10, 4], data: Float32Array.from({ length: 40 }, (_, i) => i / 8) }],
  ['model.norm.weight', { shape: [4], data: Float32Array.from([1, 2, 3, 4]) }],
  ['lm_head.weight', { shape: [10, 4], data: Float32Array.from({ length: 40 }, (_, i) => -i) }],
]);
const shapes = new Map([...tensors].map(([n, t]) => [n, t.shape]));
const isErr = (code: string, ...parts: (string | RegExp)[]) => (e: unknown) => {
  assert.ok(e instanceof CheckpointError, String(e));
  assert.equal(e.grpcCode, code, e.message);
  for (const p of parts) assert.ok(typeof p === 'string' ? e.message.includes(p) : p.test(e.message), `${String(p)} in: ${e.message}`);
  return true;
};

test('single-file and sharded directories round-trip in every dtype, with hashes and torch_dtype', () => {
  for (const dtype of ['float32', 'float16', 'bfloat16'] as const) {
    for (const maxShardBytes of [undefined, 100]) {
      const d = dir();
      saveHfDir(d, { config: { architectures: ['LlamaForCausalLM'] }, tensors, dtype, maxShardBytes, tokenizerFiles: { 'tokenizer.json': '{}' } });
      const sharded = maxShardBytes !== undefined;
      assert.equal(existsSync(join(d, 'model.safetensors.index.json')), sharded);
      const loaded = loadHfDir(d, { expectTensors: shapes });
      // Every value is exactly representable in all three dtypes (multiples of 1/8 up to 40).
      for (const [n, t] of tensors) assert.deepEqual(loaded.tensors.get(n)!.data, t.data, `${dtype} ${n}`);
      assert.equal(loaded.tensors.get('lm_head.weight')!.dtype, { float32: 'F32', float16: 'F16', bfloat16: 'BF16' }[dtype]);
      assert.equal(loaded.config.torch_dtype, dtype);
      const names = loaded.files.map((f) => f.path.slice(d.length + 1));
      assert.ok(names.includes('config.json') && names.includes('tokenizer.json'), names.join());
      assert.ok(loaded.files.every((f) => /^[0-9a-f]{64}$/.test(f.sha256) && f.sizeBytes > 0));
      if (sharded) {
        const index = JSON.parse(readFileSync(join(d, 'model.safetensors.index.json'), 'utf8')) as { metadata: { total_size: number }; weight_map: Record<string, string> };
        const bytes = { float32: 4, float16: 2, bfloat16: 2 }[dtype];
        assert.equal(index.metadata.total_size, 84 * bytes);
        assert.deepEqual(Object.keys(index.weight_map).sort(), [...tensors.keys()].sort());
        for (const f of new Set(Object.values(index.weight_map))) assert.match(f, /^model-0000\d-of-0000\d\.safetensors$/);
        assert.ok(new Set(Object.values(index.weight_map)).size >= 2);
        assert.equal(loaded.tensorFiles.get('lm_head.weight'), join(d, index.weight_map['lm_head.weight']!));
      }
    }
  }
});

test('re-saving replaces the weight files: no stale index or shard survives', () => {
  const d = dir();
  saveHfDir(d, { config: {}, tensors, maxShardBytes: 100 });
  saveHfDir(d, { config: {}, tensors });
  assert.deepEqual(readdirSync(d).sort(), ['config.json', 'model.safetensors']);
  assert.deepEqual(loadHfDir(d).tensors.get('model.norm.weight')!.data, Float32Array.from([1, 2, 3, 4]));
});

test('errors name the file and the tensor: missing config, missing shard, tensor missing from its shard, strays, duplicates', () => {
  const d = dir();
  assert.throws(() => loadHfDir(join(d, 'nope')), isErr('NOT_FOUND', 'does not exist'));
  writeFileSync(join(d, 'pytorch_model.bin'), '');
  assert.throws(() => loadHfDir(d), isErr('NOT_FOUND', join(d, 'config.json'), 'is missing'));
  writeFileSync(join(d, 'config.json'), '{');
  assert.throws(() => loadHfDir(d), isErr('INVALID_ARGUMENT', join(d, 'config.json'), 'not valid JSON'));
  writeFileSync(join(d, 'config.json'), '{}');
  assert.throws(() => loadHfDir(d), isErr('NOT_FOUND', 'no model.safetensors', 'pytorch_model.bin'));

  const s = dir();
  saveHfDir(s, { config: {}, tensors, maxShardBytes: 100 });
  const indexPath = join(s, 'model.safetensors.index.json');
  const index = JSON.parse(readFileSync(indexPath, 'utf8')) as { weight_map: Record<string, string> };
  const shardOf = (n: string) => join(s, index.weight_map[n]!);
  // The index lists a tensor its shard does not hold.
  writeFileSync(indexPath, JSON.stringify({ weight_map: { ...index.weight_map, 'model.layers.0.mlp.up_proj.weight': index.weight_map['lm_head.weight'] } }));
  assert.throws(() => loadHfDir(s), isErr('DATA_LOSS', 'tensor "model.layers.0.mlp.up_proj.weight"', shardOf('lm_head.weight'), indexPath));
  // Two extra shards: "stray" in both, listed for neither, then listed for the second only.
  const extra = join(s, 'model-00009-of-00009.safetensors');
  const extra2 = join(s, 'model-00010-of-00010.safetensors');
  const one = { dtype: 'F32', shape: [1], data: new Float32Array(1) } as const;
  writeSafetensors(extra, [['stray', one], ['x1', one]]);
  writeSafetensors(extra2, [['stray', one], ['x2', one]]);
  const withExtras = { ...index.weight_map, x1: 'model-00009-of-00009.safetensors', x2: 'model-00010-of-00010.safetensors' };
  writeFileSync(indexPath, JSON.stringify({ weight_map: withExtras }));
  assert.throws(() => loadHfDir(s), isErr('INVALID_ARGUMENT', 'tensor "stray" is in both', extra, extra2));
  writeFileSync(indexPath, JSON.stringify({ weight_map: { ...withExtras, stray: 'model-00010-of-00010.safetensors' } }));
  assert.throws(() => loadHfDir(s), isErr('INVALID_ARGUMENT', `tensor "stray" is in ${extra} but ${indexPath} places it in ${extra2}`));
  writeFileSync(indexPath, JSON.stringify(index));
  // A listed shard that is gone.
  unlinkSync(shardOf('lm_head.weight'));
  assert.throws(() => loadHfDir(s), isErr('NOT_FOUND', shardOf('lm_head.weight'), `(listed in ${indexPath}) is missing`));
  // Corruption inside a shard surfaces with the shard's name and the tensor's.
  const c = dir();
  saveHfDir(c, { config: {}, tensors });
  const st = join(c, 'model.safetensors');
  writeFileSync(st, readFileSync(st).subarray(0, readFileSync(st).length - 4));
  assert.throws(() => loadHfDir(c), isErr('DATA_LOSS', st, /tensor "[^"]+"/));
  assert.throws(() => saveHfDir(dir(), { config: {}, tensors: [['a', { shape: [1], data: new Float32Array(1) }], ['a', { shape: [1], data: new Float32Array(1) }]] }), isErr('INVALID_ARGUMENT', 'tensor "a" given twice'));
});

test('expectTensors reports every missing or misshaped tensor by name and file', () => {
  const d = dir();
  saveHfDir(d, { config: {}, tensors: [['model.norm.weight', { shape: [4], data: new Float32Array(4) }], ['lm_head.weight', { shape: [2, 4], data: new Float32Array(8) }]] });
  const st = join(d, 'model.safetensors');
  assert.throws(
    () => loadHfDir(d, { expectTensors: new Map([['model.norm.weight', [8]], ['lm_head.weight', [10, 4]], ['model.embed_tokens.weight', [10, 4]], ['model.layers.0.self_attn.q_proj.weight', [4, 4]]]) }),
    isErr(
      'INVALID_ARGUMENT',
      '4 tensor problem(s)',
      `tensor "model.norm.weight" in ${st} has shape [4], the config needs [8]`,
      `tensor "lm_head.weight" in ${st} has shape [2,4], the config needs [10,4]`,
      `missing tensor "model.embed_tokens.weight" (shape [10,4]) in ${st}`,
      `missing tensor "model.layers.0.self_attn.q_proj.weight" (shape [4,4]) in ${st}`,
    ),
  );
  // The Map shorthand is the same option.
  assert.throws(() => loadHfDir(d, new Map([['x', [1]]])), isErr('INVALID_ARGUMENT', 'missing tensor "x"'));
});

const python = '/usr/bin/python3';
const pyEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'OPENBLAS_CORETYPE' && k !== 'OPENBLAS_L2_SIZE')) as NodeJS.ProcessEnv;
const torchOk = existsSync(python) && spawnSync(python, ['-c', 'import torch'], { env: pyEnv }).status === 0;
const golden = fileURLToPath(new URL('./golden/torch_golden.py', import.meta.url));
const runGolden = (...args: string[]) => JSON.parse(execFileSync(python, [golden, ...args], { encoding: 'utf8', env: pyEnv, maxBuffer: 64 << 20 })) as unknown;
const num = (v: number | string) => (v === 'nan' ? NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : Number(v));
const skip = torchOk ? false : 'PyTorch not importable by /usr/bin/python3 (Debian python3-torch): golden interop check skipped';

test('PyTorch interop: torch reads juice checkpoints, juice reads torch files, and f16/bf16 rounding equals torch bit for bit', { skip }, () => {
  // juice → torch: a sharded bf16 and a single-file f16 directory, read by an independent reader.
  const w = Float32Array.from({ length: 24 }, (_, i) => (i - 11) / 3);
  for (const [dtype, maxShardBytes] of [['bfloat16', 40], ['float16', undefined]] as const) {
    const d = dir();
    saveHfDir(d, { config: {}, tensors: [['model.layers.0.mlp.up_proj.weight', { shape: [3, 4], data: w.subarray(0, 12) }], ['model.layers.0.mlp.down_proj.weight', { shape: [4, 3], data: w.subarray(12) }]], dtype, maxShardBytes });
    const torch = runGolden('read', d) as Record<string, { dtype: string; shape: number[]; values: number[] }>;
    const ours = loadHfDir(d).tensors;
    assert.deepEqual(Object.keys(torch).sort(), [...ours.keys()].sort());
    for (const [name, t] of ours) {
      assert.equal(torch[name]!.dtype, dtype === 'bfloat16' ? 'BF16' : 'F16');
      assert.deepEqual(torch[name]!.shape, t.shape);
      assert.deepEqual(torch[name]!.values, Array.from(t.data as Float32Array), `${dtype} ${name}: torch decodes the same values`);
    }
  }
  // torch → juice: a file written from torch tensors by a hand-written writer.
  const f = join(dir(), 'from-torch.safetensors');
  const wrote = runGolden('write', f) as Record<string, { dtype: string; shape: number[]; values: (number | string)[] }>;
  const { tensors: got } = readSafetensors(f);
  for (const [name, t] of Object.entries(wrote)) {
    const ours = got.get(name)!;
    assert.equal(ours.dtype, t.dtype, name);
    assert.deepEqual(ours.shape, t.shape, name);
    const vals = Array.from(ours.data as ArrayLike<number | bigint>, (v) => (typeof v === 'bigint' ? Number(v) : v));
    assert.deepEqual(vals, t.values.map(num), name);
  }
  // Rounding: edge cases plus 20 000 pseudo-random float32 bit patterns across every exponent.
  const bits: number[] = [0x7f7fffff, 0x477ff000, 0x477fefff, 0x33000000, 0x33000001, 0x387fc000, 0x3f808000, 0x3f818000, 0x7f800001, 0xff800000, 0x00000001, 0x00008000, 0x00018000];
  let s = 12345;
  while (bits.length < 20_000) bits.push((s = (Math.imul(s, 1664525) + 1013904223) >>> 0));
  const bitsFile = join(dir(), 'bits.bin');
  writeFileSync(bitsFile, new Uint8Array(Uint32Array.from(bits).buffer));
  const torch = runGolden('convert', bitsFile) as { f16: number[]; bf16: number[] };
  const asF32 = new Float32Array(Uint32Array.from(bits).buffer);
  let f16Diff = 0;
  let bf16Diff = 0;
  for (let i = 0; i < bits.length; i++) {
    const x = asF32[i]!;
    const ours16 = f32ToF16Bits(x);
    const oursB = f32ToBf16Bits(x);
    // NaN payloads may differ; NaN-ness may not.
    if (Number.isNaN(x)) {
      if (!Number.isNaN(f16BitsToF32(torch.f16[i]!)) || !Number.isNaN(f16BitsToF32(ours16))) f16Diff++;
      if (!Number.isNaN(bf16BitsToF32(torch.bf16[i]!)) || !Number.isNaN(bf16BitsToF32(oursB))) bf16Diff++;
      continue;
    }
    if (ours16 !== torch.f16[i]) f16Diff++;
    if (oursB !== torch.bf16[i]) bf16Diff++;
  }
  assert.equal(f16Diff, 0, 'float16 bit patterns differ from torch');
  assert.equal(bf16Diff, 0, 'bfloat16 bit patterns differ from torch');
});

test('a directory can be created inside a missing parent; config.json is written last', () => {
  const parent = join(dir(), 'a', 'b');
  const written = saveHfDir(parent, { config: { x: 1 }, tensors, extraFiles: { 'generation_config.json': '{"eos_token_id": 2}' } });
  assert.equal(written.at(-1), join(parent, 'config.json'));
  assert.ok(loadHfDir(parent).files.some((f) => f.path.endsWith('generation_config.json')));
  rmSync(join(parent, 'config.json'));
  mkdirSync(join(parent, 'sub'));
  assert.throws(() => loadHfDir(parent), isErr('NOT_FOUND', 'config.json'));
});
