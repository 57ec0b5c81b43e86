import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, truncateSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointError, readSafetensors, SafetensorsFile, writeSafetensors, type StDtype } from '../src/index.js';

const dir = () => mkdtempSync(join(tmpdir(), 'juice-st-'));
const values = Float32Array.from([0, -0, 1, -2.5, 65504, 1e-7, 3.1415927, -1e30, Infinity, NaN, 2 ** -24, 1 + 2 ** -11]);

/** A file from a raw header object and data section, for corruption cases the writer never produces. */
function rawFile(path: string, header: string | object, data: Buffer | number = 0): void {
  const h = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  writeFileSync(path, Buffer.concat([len, h, typeof data === 'number' ? Buffer.alloc(data) : data]));
}

const dataLoss = (file: string, ...parts: (string | RegExp)[]) => (e: unknown) => {
  assert.ok(e instanceof CheckpointError, `CheckpointError expected, got ${String(e)}`);
  assert.equal(e.grpcCode, 'DATA_LOSS', e.message);
  assert.ok(e.message.includes(file), `names the file: ${e.message}`);
  for (const p of parts) assert.ok(typeof p === 'string' ? e.message.includes(p) : p.test(e.message), `${String(p)} in: ${e.message}`);
  return true;
};

test('every dtype round-trips with the exact on-disk bytes; data section 8-byte aligned; metadata kept', () => {
  const f = join(dir(), 'a.safetensors');
  writeSafetensors(
    f,
    [
      ['f16', { dtype: 'F16', shape: [values.length], data: values }],
      ['f32', { dtype: 'F32', shape: [3, 4], data: values }],
      ['bf16', { dtype: 'BF16', shape: [values.length], data: values }],
      ['ids', { dtype: 'I64', shape: [2, 2], data: BigInt64Array.from([1n, -2n, 3n, 1n << 40n]) }],
      ['i32', { dtype: 'I32', shape: [3], data: Int32Array.from([-1, 0, 2 ** 31 - 1]) }],
      ['u8', { dtype: 'U8', shape: [3], data: Uint8Array.from([0, 7, 255]) }],
      ['mask', { dtype: 'BOOL', shape: [3], data: Uint8Array.from([1, 0, 1]) }],
      ['scalar', { dtype: 'F32', shape: [], data: Float32Array.from([42]) }],
      ['empty', { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) }],
    ],
    { format: 'pt', note: 'juice' },
  );
  const raw = readFileSync(f);
  const headerLen = Number(raw.readBigUInt64LE(0));
  assert.equal((8 + headerLen) % 8, 0, 'data section is 8-byte aligned');
  const header = JSON.parse(raw.subarray(8, 8 + headerLen).toString()) as Record<string, { dtype: StDtype; data_offsets: [number, number] }>;
  assert.deepEqual(header.__metadata__, { format: 'pt', note: 'juice' });
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const width = { F32: 4, I64: 8, I32: 4, F16: 2, BF16: 2, U8: 1, BOOL: 1 }[e.dtype as string]!;
    assert.equal(e.data_offsets[0] % width, 0, `${name} is aligned to its element size`);
  }
  const at = (name: string) => raw.subarray(8 + headerLen + header[name]!.data_offsets[0], 8 + headerLen + header[name]!.data_offsets[1]);
  const u16 = (name: string) => Array.from({ length: at(name).length / 2 }, (_, i) => at(name).readUInt16LE(i * 2));
  // Bits on disk, hand-computed: 1e-7 → subnormal 2×2^-24 (0x0002); 3.1415927 → 0x4248; -1e30 → -inf; 1+2^-11 ties to 0x3c00.
  assert.deepEqual(u16('f16').map((h) => h.toString(16)), ['0', '8000', '3c00', 'c100', '7bff', '2', '4248', 'fc00', '7c00', '7e00', '1', '3c00']);
  assert.deepEqual(u16('bf16').map((h) => h.toString(16)), ['0', '8000', '3f80', 'c020', '4780', '33d7', '4049', 'f14a', '7f80', '7fc0', '3380', '3f80']);
  assert.deepEqual(new Float32Array(at('f32').buffer.slice(at('f32').byteOffset, at('f32').byteOffset + 48)), values);

  const { tensors, metadata } = readSafetensors(f);
  assert.equal(metadata.note, 'juice');
  assert.deepEqual(tensors.get('f32')!.data, values);
  assert.deepEqual(tensors.get('f32')!.shape, [3, 4]);
  const f16 = tensors.get('f16')!.data as Float32Array;
  assert.deepEqual(Array.from(f16.slice(0, 5)), [0, -0, 1, -2.5, 65504]);
  assert.equal(f16[5], 2 * 2 ** -24);
  assert.equal(f16[7], -Infinity);
  assert.ok(Number.isNaN(f16[9]));
  assert.equal((tensors.get('bf16')!.data as Float32Array)[6], 3.140625);
  assert.deepEqual(tensors.get('ids')!.data, BigInt64Array.from([1n, -2n, 3n, 1n << 40n]));
  assert.deepEqual(tensors.get('i32')!.data, Int32Array.from([-1, 0, 2 ** 31 - 1]));
  assert.deepEqual(tensors.get('u8')!.data, Uint8Array.from([0, 7, 255]));
  assert.deepEqual(tensors.get('mask')!.data, Uint8Array.from([1, 0, 1]));
  assert.deepEqual(tensors.get('scalar'), { dtype: 'F32', shape: [], data: Float32Array.from([42]) });
  assert.deepEqual(tensors.get('empty')!.shape, [0, 4]);
  // Writing back what was read reproduces the file byte for byte (the dtype travels with the tensor).
  const g = join(dir(), 'b.safetensors');
  writeSafetensors(g, [...tensors], metadata);
  assert.ok(readFileSync(g).equals(raw));
  assert.equal(readdirSync(join(g, '..')).length, 1, 'no temp file left behind');
});

test('SafetensorsFile reads single tensors on demand', () => {
  const f = join(dir(), 'lazy.safetensors');
  writeSafetensors(f, [
    ['a', { dtype: 'F32', shape: [2], data: Float32Array.from([1, 2]) }],
    ['b', { dtype: 'BF16', shape: [2], data: Float32Array.from([3, 4]) }],
  ]);
  const st = SafetensorsFile.open(f);
  try {
    assert.deepEqual(st.names, ['a', 'b']);
    assert.deepEqual(st.entry('b'), { dtype: 'BF16', shape: [2], data_offsets: [8, 12] });
    assert.deepEqual(st.read('b').data, Float32Array.from([3, 4]));
    assert.throws(() => st.read('c'), (e: unknown) => e instanceof CheckpointError && e.grpcCode === 'NOT_FOUND' && e.message.includes(f) && e.message.includes('"c"'));
  } finally {
    st.close();
  }
});

test('corrupt files fail with DATA_LOSS naming the file and the tensor', () => {
  const d = dir();
  const f = join(d, 'bad.safetensors');
  // Truncated data: the last tensor runs past the end.
  writeSafetensors(f, [
    ['ok', { dtype: 'F32', shape: [2], data: new Float32Array(2) }],
    ['w', { dtype: 'F32', shape: [4, 4], data: new Float32Array(16) }],
  ]);
  truncateSync(f, readFileSync(f).length - 10);
  assert.throws(() => readSafetensors(f), dataLoss(f, 'tensor "w"', 'truncated'));
  // Fewer than 8 bytes; header length beyond the file.
  writeFileSync(f, Buffer.from([1, 2, 3]));
  assert.throws(() => readSafetensors(f), dataLoss(f, 'truncated'));
  writeFileSync(f, Buffer.from([0xff, 0, 0, 0, 0, 0, 0, 0, 1, 2]));
  assert.throws(() => readSafetensors(f), dataLoss(f, /header length 255 runs past the end of the file \(10 bytes\)/));
  // Header not JSON / not an object.
  rawFile(f, '{"x": ');
  assert.throws(() => readSafetensors(f), dataLoss(f, 'not valid JSON'));
  rawFile(f, '[1,2]');
  assert.throws(() => readSafetensors(f), dataLoss(f, 'JSON object'));
  // Shape × dtype size mismatch.
  rawFile(f, { x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8);
  assert.throws(() => readSafetensors(f), dataLoss(f, 'tensor "x": shape [3] of F32 needs 12 bytes, data_offsets [0, 8] span 8'));
  // Offsets out of range.
  rawFile(f, { x: { dtype: 'F16', shape: [4], data_offsets: [8, 16] } }, 12);
  assert.throws(() => readSafetensors(f), dataLoss(f, 'tensor "x": data_offsets [8, 16] run past the 12 data bytes'));
  rawFile(f, { x: { dtype: 'F16', shape: [0], data_offsets: [4, 2] } }, 4);
  assert.throws(() => readSafetensors(f), dataLoss(f, 'tensor "x": data_offsets [4,2]'));
  // Overlapping tensors (a zero-size tensor between them must not hide the overlap).
  rawFile(f, { a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] }, z: { dtype: 'F32', shape: [0], data_offsets: [4, 4] }, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, 16);
  assert.throws(() => readSafetensors(f), dataLoss(f, 'tensors "a" [0, 16] and "b" [8, 16] overlap'));
  // Duplicate names in the header (JSON.parse alone would silently keep the last).
  rawFile(f, '{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}', 8);
  assert.throws(() => readSafetensors(f), dataLoss(f, 'tensor "w" listed more than once'));
  // Unknown dtype, malformed shape.
  rawFile(f, { q: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, 1);
  assert.throws(() => readSafetensors(f), dataLoss(f, 'tensor "q": dtype "F8_E4M3" is not supported'));
  rawFile(f, { s: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4);
  assert.throws(() => readSafetensors(f), dataLoss(f, 'tensor "s": shape [-1]'));
  // Missing file.
  assert.throws(() => readSafetensors(join(d, 'none.safetensors')), (e: unknown) => e instanceof CheckpointError && e.grpcCode === 'NOT_FOUND' && e.message.includes('none.safetensors'));
});

test('the writer rejects duplicate names and value/shape mismatches, naming file and tensor', () => {
  const f = join(dir(), 'w.safetensors');
  const bad = (...parts: string[]) => (e: unknown) => e instanceof CheckpointError && e.grpcCode === 'INVALID_ARGUMENT' && [f, ...parts].every((p) => e.message.includes(p));
  assert.throws(() => writeSafetensors(f, [['a', { dtype: 'F32', shape: [1], data: new Float32Array(1) }], ['a', { dtype: 'F32', shape: [1], data: new Float32Array(1) }]]), bad('tensor "a" given twice'));
  assert.throws(() => writeSafetensors(f, [['b', { dtype: 'F16', shape: [2, 3], data: new Float32Array(5) }]]), bad('tensor "b" has 5 values, shape [2,3] needs 6'));
  assert.throws(() => writeSafetensors(f, [['__metadata__', { dtype: 'F32', shape: [1], data: new Float32Array(1) }]]), bad('reserved'));
});

test('a 4 M-value tensor round-trips through F16 and BF16 quickly', () => {
  const n = 1 << 22;
  const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 100);
  const f = join(dir(), 'big.safetensors');
  const t0 = performance.now();
  writeSafetensors(f, [['h', { dtype: 'F16', shape: [n], data: x }], ['b', { dtype: 'BF16', shape: [n], data: x }]]);
  const { tensors } = readSafetensors(f);
  const ms = performance.now() - t0;
  const h = tensors.get('h')!.data as Float32Array;
  const b = tensors.get('b')!.data as Float32Array;
  for (let i = 0; i < n; i += 4099) {
    assert.ok(Math.abs(h[i]! - x[i]!) <= Math.abs(x[i]!) * 2 ** -11 + 2 ** -24, `f16 ${i}`);
    assert.ok(Math.abs(b[i]! - x[i]!) <= Math.abs(x[i]!) * 2 ** -8, `bf16 ${i}`);
  }
  assert.ok(ms < 5000, `${ms} ms`);
});
