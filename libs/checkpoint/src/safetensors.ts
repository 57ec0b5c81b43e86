// The safetensors format: 8-byte little-endian header length, a JSON header {name: {dtype, shape,
// data_offsets}} with optional "__metadata__" (string → string), then raw little-endian data. Float
// tensors are Float32Array in memory whatever their dtype on disk. Reading uses positioned reads of one
// tensor at a time straight into its typed array, so a large file is never held twice in memory.
import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { CheckpointError } from './errors.js';
import { bfloat16ToFloat32Array, float16ToFloat32Array, float32ToBfloat16Array, float32ToFloat16Array } from './half-float.js';
import { duplicates, topLevelKeys } from './json-keys.js';
import { describeJsonError } from '@juice/proto';

export type StDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';
export const ST_DTYPE_BYTES: Readonly<Record<StDtype, number>> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

export type StData = Float32Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

export interface StTensor {
  /** dtype on disk (what to write back). */
  dtype: StDtype;
  shape: number[];
  /** Float dtypes decode to Float32Array; integers keep their width (I64 → BigInt64Array, BOOL → Uint8Array). */
  data: StData;
}

/** A tensor to write: float dtypes take a Float32Array; integer dtypes their own typed array (or any numbers). */
export interface StTensorInput {
  dtype: StDtype;
  shape: readonly number[];
  data: StData | Float64Array | ArrayLike<number>;
}

export interface StHeaderEntry {
  dtype: StDtype;
  shape: number[];
  data_offsets: [number, number];
}

export interface StHeader {
  entries: Map<string, StHeaderEntry>;
  metadata: Record<string, string>;
  /** Byte offset of the data section in the file (8 + header length). */
  dataStart: number;
  fileSize: number;
}

/** The reference implementation's limit; a larger "length" means the file is not safetensors. */
const MAX_HEADER_BYTES = 100_000_000;
/** readSync moves at most 2 GiB per call; tensors can be larger. */
const IO_CHUNK = 1 << 30;

const corrupt = (file: string, msg: string) => new CheckpointError('DATA_LOSS', `${file}: ${msg}`);
const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

function readFully(fd: number, target: Uint8Array, position: number, file: string, what: string): void {
  let done = 0;
  while (done < target.byteLength) {
    const n = readSync(fd, target, done, Math.min(IO_CHUNK, target.byteLength - done), position + done);
    if (n === 0) throw corrupt(file, `${what}: file ends after ${position + done} bytes (truncated)`);
    done += n;
  }
}

function writeFully(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.byteLength; ) done += writeSync(fd, bytes, done, Math.min(IO_CHUNK, bytes.byteLength - done));
}

/** Reads and validates the header: known dtypes, dtype × shape = span, offsets inside the file, no overlap, no duplicate names. */
export function readHeader(fd: number, file: string): StHeader {
  const fileSize = fstatSync(fd).size;
  if (fileSize < 8) throw corrupt(file, `truncated: ${fileSize} bytes, a safetensors file starts with an 8-byte header length`);
  const lenBuf = Buffer.alloc(8);
  readFully(fd, lenBuf, 0, file, 'header length');
  const big = lenBuf.readBigUInt64LE(0);
  if (big > BigInt(fileSize - 8) || big > BigInt(MAX_HEADER_BYTES)) {
    throw corrupt(file, `header length ${big} runs past the end of the file (${fileSize} bytes): truncated or not a safetensors file`);
  }
  const n = Number(big);
  const hb = Buffer.alloc(n);
  readFully(fd, hb, 8, file, 'header');
  const text = hb.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw corrupt(file, `header is ${describeJsonError(text)}`);
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw corrupt(file, 'header must be a JSON object of tensors');
  const dup = duplicates(topLevelKeys(text));
  if (dup.length) throw corrupt(file, `tensor ${dup.map((d) => `"${d}"`).join(', ')} listed more than once in the header`);
  const dataStart = 8 + n;
  const dataSize = fileSize - dataStart;
  const entries = new Map<string, StHeaderEntry>();
  const spans: [number, number, string][] = [];
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw corrupt(file, '"__metadata__" must be an object of strings');
      metadata = raw as Record<string, string>;
      continue;
    }
    const e = raw as Partial<StHeaderEntry> | null;
    const where = `tensor "${name}"`;
    if (!e || typeof e !== 'object') throw corrupt(file, `${where}: header entry must be {dtype, shape, data_offsets}`);
    if (typeof e.dtype !== 'string' || !(e.dtype in ST_DTYPE_BYTES)) {
      throw corrupt(file, `${where}: dtype ${JSON.stringify(e.dtype)} is not supported (${Object.keys(ST_DTYPE_BYTES).join(', ')})`);
    }
    if (!Array.isArray(e.shape) || !e.shape.every(isCount)) throw corrupt(file, `${where}: shape ${JSON.stringify(e.shape)} must be a list of non-negative integers`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every(isCount) || off[0] > off[1]) {
      throw corrupt(file, `${where}: data_offsets ${JSON.stringify(off)} must be [begin, end] with 0 ≤ begin ≤ end`);
    }
    const [s, t] = off;
    const need = e.shape.reduce((a, b) => a * b, 1) * ST_DTYPE_BYTES[e.dtype];
    if (t - s !== need) throw corrupt(file, `${where}: shape [${e.shape}] of ${e.dtype} needs ${need} bytes, data_offsets [${s}, ${t}] span ${t - s}`);
    if (t > dataSize) throw corrupt(file, `${where}: data_offsets [${s}, ${t}] run past the ${dataSize} data bytes in the file (truncated file?)`);
    entries.set(name, { dtype: e.dtype, shape: e.shape, data_offsets: [s, t] });
    spans.push([s, t, name]);
  }
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  // Compare each span with the furthest-reaching earlier one; zero-sized tensors occupy no bytes.
  let reach: [number, number, string] | undefined;
  for (const span of spans) {
    const [s, t, name] = span;
    if (t === s) continue;
    if (reach && s < reach[1]) throw corrupt(file, `tensors "${reach[2]}" [${reach[0]}, ${reach[1]}] and "${name}" [${s}, ${t}] overlap`);
    if (!reach || t > reach[1]) reach = span;
  }
  return { entries, metadata, dataStart, fileSize };
}

function decode(fd: number, file: string, name: string, e: StHeaderEntry, dataStart: number): StData {
  const [s, t] = e.data_offsets;
  const count = (t - s) / ST_DTYPE_BYTES[e.dtype];
  const pos = dataStart + s;
  const into = <T extends { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }>(arr: T): T => {
    readFully(fd, new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength), pos, file, `tensor "${name}"`);
    return arr;
  };
  switch (e.dtype) {
    case 'F32':
      return into(new Float32Array(count));
    case 'F16':
      return float16ToFloat32Array(into(new Uint16Array(count)));
    case 'BF16':
      return bfloat16ToFloat32Array(into(new Uint16Array(count)));
    case 'F64':
      return Float32Array.from(into(new Float64Array(count)));
    case 'I64':
      return into(new BigInt64Array(count));
    case 'I32':
      return into(new Int32Array(count));
    case 'I16':
      return into(new Int16Array(count));
    case 'I8':
      return into(new Int8Array(count));
    case 'U8':
    case 'BOOL':
      return into(new Uint8Array(count));
  }
}

/** One open safetensors file: the validated header now, tensors read one at a time on demand. */
export class SafetensorsFile {
  private closed = false;

  private constructor(
    readonly file: string,
    private readonly fd: number,
    readonly header: StHeader,
  ) {}

  static open(file: string): SafetensorsFile {
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch (e) {
      throw new CheckpointError('NOT_FOUND', `${file} cannot be opened (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    try {
      return new SafetensorsFile(file, fd, readHeader(fd, file));
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  get names(): string[] {
    return [...this.header.entries.keys()];
  }

  get metadata(): Record<string, string> {
    return this.header.metadata;
  }

  entry(name: string): StHeaderEntry | undefined {
    return this.header.entries.get(name);
  }

  read(name: string): StTensor {
    if (this.closed) throw new Error(`${this.file} is closed`);
    const e = this.header.entries.get(name);
    if (!e) throw new CheckpointError('NOT_FOUND', `${this.file}: no tensor "${name}"`);
    return { dtype: e.dtype, shape: [...e.shape], data: decode(this.fd, this.file, name, e, this.header.dataStart) };
  }

  close(): void {
    if (!this.closed) closeSync(this.fd);
    this.closed = true;
  }
}

/** Reads the named tensors (default: all, in header order) of one file. */
export function readSafetensors(file: string, names?: Iterable<string>): { tensors: Map<string, StTensor>; metadata: Record<string, string> } {
  const f = SafetensorsFile.open(file);
  try {
    const tensors = new Map<string, StTensor>();
    for (const name of names ?? f.names) tensors.set(name, f.read(name));
    return { tensors, metadata: f.metadata };
  } finally {
    f.close();
  }
}

/** The on-disk bytes of one tensor in `dtype` (floats rounded to nearest even for F16/BF16). */
export function encodeTensor(t: { data: StTensorInput['data'] }, dtype: StDtype): Uint8Array {
  const d = t.data;
  const bytes = (a: { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const asF32 = () => (d instanceof Float32Array ? d : Float32Array.from(d as ArrayLike<number>, Number));
  switch (dtype) {
    case 'F32':
      return bytes(asF32());
    case 'F16':
      return bytes(float32ToFloat16Array(asF32()));
    case 'BF16':
      return bytes(float32ToBfloat16Array(asF32()));
    case 'F64':
      return bytes(d instanceof Float64Array ? d : Float64Array.from(d as ArrayLike<number>, Number));
    case 'I64':
      return bytes(d instanceof BigInt64Array ? d : BigInt64Array.from(d as ArrayLike<number>, (x) => BigInt(Math.trunc(Number(x)))));
    case 'I32':
      return bytes(d instanceof Int32Array ? d : Int32Array.from(d as ArrayLike<number>, Number));
    case 'I16':
      return bytes(d instanceof Int16Array ? d : Int16Array.from(d as ArrayLike<number>, Number));
    case 'I8':
      return bytes(d instanceof Int8Array ? d : Int8Array.from(d as ArrayLike<number>, Number));
    case 'U8':
    case 'BOOL':
      return bytes(d instanceof Uint8Array ? d : Uint8Array.from(d as ArrayLike<number>, (x) => (dtype === 'BOOL' ? (Number(x) ? 1 : 0) : Number(x))));
  }
}

/**
 * Writes one file atomically (temp file, fsync, rename). Tensors are laid out widest dtype first
 * (stable otherwise), as the reference writer does, so every tensor's data is aligned to its element
 * size when the data section is; the header is space-padded so the data section starts 8-byte aligned.
 * Each tensor is encoded and written in turn: peak extra memory is one tensor, not the file.
 */
export function writeSafetensors(file: string, tensors: Iterable<[string, StTensorInput]>, metadata: Record<string, string> = {}): void {
  const list = [...tensors];
  const seen = new Set<string>();
  for (const [name, t] of list) {
    if (name === '__metadata__') throw new CheckpointError('INVALID_ARGUMENT', `${file}: "__metadata__" is reserved and cannot name a tensor`);
    if (seen.has(name)) throw new CheckpointError('INVALID_ARGUMENT', `${file}: tensor "${name}" given twice`);
    seen.add(name);
    if (!(t.dtype in ST_DTYPE_BYTES)) throw new CheckpointError('INVALID_ARGUMENT', `${file}: tensor "${name}": dtype ${JSON.stringify(t.dtype)} is not one of ${Object.keys(ST_DTYPE_BYTES).join(', ')}`);
    if (!t.shape.every(isCount)) throw new CheckpointError('INVALID_ARGUMENT', `${file}: tensor "${name}": shape [${t.shape}] must be non-negative integers`);
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new CheckpointError('INVALID_ARGUMENT', `${file}: tensor "${name}" has ${t.data.length} values, shape [${t.shape}] needs ${count}`);
  }
  const ordered = list.map((e, i) => [e, i] as const).sort(([a, i], [b, j]) => ST_DTYPE_BYTES[b[1].dtype] - ST_DTYPE_BYTES[a[1].dtype] || i - j).map(([e]) => e);
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of ordered) {
    const size = t.data.length * ST_DTYPE_BYTES[t.dtype];
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + size] };
    offset += size;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - (json.length % 8)) % 8;
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length + pad));
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  let written = false;
  try {
    writeFully(fd, len);
    writeFully(fd, json);
    writeFully(fd, Buffer.alloc(pad, 0x20));
    for (const [, t] of ordered) writeFully(fd, encodeTensor(t, t.dtype));
    fsyncSync(fd);
    written = true;
  } finally {
    closeSync(fd);
    if (!written) rmSync(tmp, { force: true });
  }
  renameSync(tmp, file);
}
