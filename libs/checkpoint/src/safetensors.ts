// The safetensors format (8-byte little-endian header length, JSON header of {name: {dtype, shape,
// data_offsets}} plus optional __metadata__, then the raw little-endian data). Float tensors are
// Float32Array in memory whatever their dtype on disk; reading uses positioned reads, so a large file
// is never held twice.
import { closeSync, fstatSync, openSync, readSync, writeSync, fsyncSync, renameSync } from 'node:fs';
import { bfloat16Bits, bfloat16ToNumber, float16Bits, float16ToNumber } from '@juice/onnx';
import { CheckpointError } from './errors.js';

export type StDtype = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'I8' | 'U8' | 'BOOL';
const SIZE: Record<StDtype, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, I8: 1, U8: 1, BOOL: 1 };

export interface StTensor {
  /** dtype on disk (what to write back). */
  dtype: StDtype;
  shape: number[];
  /** Float dtypes decode to Float32Array; integers keep their width. */
  data: Float32Array | BigInt64Array | Int32Array | Int8Array | Uint8Array;
}

export interface StHeaderEntry {
  dtype: StDtype;
  shape: number[];
  data_offsets: [number, number];
}

const bad = (file: string, msg: string) => new CheckpointError('DATA_LOSS', `${file}: ${msg}`);

/** Reads and validates the header: every entry's size matches dtype × shape, offsets in range, no overlap. */
export function readHeader(fd: number, file: string): { entries: Map<string, StHeaderEntry>; metadata: Record<string, string>; dataStart: number; fileSize: number } {
  const fileSize = fstatSync(fd).size;
  if (fileSize < 8) throw bad(file, `truncated: ${fileSize} bytes, a safetensors file starts with an 8-byte header length`);
  const lenBuf = Buffer.alloc(8);
  readSync(fd, lenBuf, 0, 8, 0);
  const n = Number(lenBuf.readBigUInt64LE(0));
  if (n > fileSize - 8 || n > 100 << 20) throw bad(file, `header length ${n} runs past the end of the file (${fileSize} bytes): truncated or not safetensors`);
  const hb = Buffer.alloc(n);
  readSync(fd, hb, 0, n, 8);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(hb.toString('utf8')) as Record<string, unknown>;
  } catch (e) {
    throw bad(file, `header is not valid JSON (${(e as Error).message})`);
  }
  const dataStart = 8 + n;
  const dataSize = fileSize - dataStart;
  const entries = new Map<string, StHeaderEntry>();
  const spans: [number, number, string][] = [];
  for (const [name, raw] of Object.entries(json)) {
    if (name === '__metadata__') continue;
    const e = raw as StHeaderEntry;
    if (!(e.dtype in SIZE)) throw bad(file, `tensor "${name}": dtype ${JSON.stringify(e.dtype)} is not supported (${Object.keys(SIZE).join(', ')})`);
    const count = e.shape.reduce((a, b) => a * b, 1);
    const [s, t] = e.data_offsets;
    if (t - s !== count * SIZE[e.dtype]) throw bad(file, `tensor "${name}": shape [${e.shape}] of ${e.dtype} needs ${count * SIZE[e.dtype]} bytes, data_offsets span ${t - s}`);
    if (s < 0 || t > dataSize) throw bad(file, `tensor "${name}": data_offsets [${s}, ${t}] run past the ${dataSize} data bytes (truncated file?)`);
    entries.set(name, e);
    spans.push([s, t, name]);
  }
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i]![0] < spans[i - 1]![1]) throw bad(file, `tensors "${spans[i - 1]![2]}" and "${spans[i]![2]}" overlap`);
  }
  return { entries, metadata: (json.__metadata__ as Record<string, string>) ?? {}, dataStart, fileSize };
}

function decode(bytes: Buffer, dtype: StDtype): StTensor['data'] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength / SIZE[dtype];
  switch (dtype) {
    case 'F32':
      return Float32Array.from({ length: n }, (_, i) => view.getFloat32(i * 4, true));
    case 'F64':
      return Float32Array.from({ length: n }, (_, i) => view.getFloat64(i * 8, true));
    case 'F16':
      return Float32Array.from({ length: n }, (_, i) => float16ToNumber(view.getUint16(i * 2, true)));
    case 'BF16':
      return Float32Array.from({ length: n }, (_, i) => bfloat16ToNumber(view.getUint16(i * 2, true)));
    case 'I64':
      return BigInt64Array.from({ length: n }, (_, i) => view.getBigInt64(i * 8, true));
    case 'I32':
      return Int32Array.from({ length: n }, (_, i) => view.getInt32(i * 4, true));
    case 'I8':
      return new Int8Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    case 'U8':
    case 'BOOL':
      return new Uint8Array(bytes);
  }
}

export function encodeTensor(t: { data: StTensor['data'] }, dtype: StDtype): Buffer {
  const n = t.data.length;
  const out = Buffer.alloc(n * SIZE[dtype]);
  const src = t.data;
  for (let i = 0; i < n; i++) {
    switch (dtype) {
      case 'F32': out.writeFloatLE(Number(src[i]), i * 4); break;
      case 'F64': out.writeDoubleLE(Number(src[i]), i * 8); break;
      case 'F16': out.writeUInt16LE(float16Bits(Number(src[i])), i * 2); break;
      case 'BF16': out.writeUInt16LE(bfloat16Bits(Number(src[i])), i * 2); break;
      case 'I64': out.writeBigInt64LE(BigInt(src[i]!), i * 8); break;
      case 'I32': out.writeInt32LE(Number(src[i]), i * 4); break;
      case 'I8': out.writeInt8(Number(src[i]), i); break;
      case 'U8': case 'BOOL': out.writeUInt8(Number(src[i]), i); break;
    }
  }
  return out;
}

/** Reads the named tensors (default: all) of one file. */
export function readSafetensors(file: string, names?: Iterable<string>): { tensors: Map<string, StTensor>; metadata: Record<string, string> } {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    throw new CheckpointError('NOT_FOUND', `${file} does not exist`);
  }
  try {
    const { entries, metadata, dataStart } = readHeader(fd, file);
    const tensors = new Map<string, StTensor>();
    for (const name of names ?? entries.keys()) {
      const e = entries.get(name);
      if (!e) throw new CheckpointError('NOT_FOUND', `${file}: no tensor "${name}"`);
      const [s, t] = e.data_offsets;
      const buf = Buffer.alloc(t - s);
      if (readSync(fd, buf, 0, t - s, dataStart + s) !== t - s) throw bad(file, `tensor "${name}": short read (truncated file)`);
      tensors.set(name, { dtype: e.dtype, shape: e.shape, data: decode(buf, e.dtype) });
    }
    return { tensors, metadata };
  } finally {
    closeSync(fd);
  }
}

/** Writes one file atomically (temp file, fsync, rename); tensors in the given order. */
export function writeSafetensors(file: string, tensors: Iterable<[string, { dtype: StDtype; shape: readonly number[]; data: StTensor['data'] }]>, metadata: Record<string, string> = {}): void {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  const blobs: Buffer[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name in header) throw new CheckpointError('INVALID_ARGUMENT', `${file}: tensor "${name}" given twice`);
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new CheckpointError('INVALID_ARGUMENT', `${file}: tensor "${name}" has ${t.data.length} values for shape [${t.shape}]`);
    const blob = encodeTensor(t, t.dtype);
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + blob.length] };
    blobs.push(blob);
    offset += blob.length;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  // Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does.
  const pad = (8 - ((8 + json.length) % 8)) % 8;
  json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    for (const b of [len, json, ...blobs]) writeSync(fd, b);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}
