// Constant tensor data as little-endian raw bytes: one representation for initializers, Constant
// nodes and attribute tensors, which is what ONNX raw_data wants and what dedup can compare.
import { bytesPerElement, type DType } from './dtype.js';

export interface TensorData {
  readonly dtype: DType;
  readonly dims: readonly number[];
  /** Little-endian element bytes (one byte per bool). */
  readonly data: Uint8Array;
}

export type TypedArray =
  | Float32Array | Float64Array | Int32Array | BigInt64Array | Int8Array | Uint8Array | Uint16Array;

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 -> IEEE half bits, round to nearest even. */
export function float16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let m = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    if (rest > half || (rest === half && (m & 1))) m++;
    return sign | m;
  }
  let m = mant >>> 13;
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (m & 1))) {
    m++;
    if (m === 0x400) { m = 0; e++; if (e >= 0x1f) return sign | 0x7c00; }
  }
  return sign | (e << 10) | m;
}

export function float16ToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** float32 -> bfloat16 bits, round to nearest even. */
export function bfloat16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  if ((b & 0x7fffffff) > 0x7f800000) return (b >>> 16) | 0x40;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bfloat16ToNumber(h: number): number {
  u32[0] = h << 16;
  return f32[0]!;
}

/**
 * Tensor from JS values. Numbers for every dtype (float16/bfloat16 are converted), bigint for int64,
 * booleans for bool; a typed array of the matching width is taken as is (no conversion).
 */
export function tensor(dtype: DType, dims: readonly number[], values: ArrayLike<number | bigint | boolean> | TypedArray): TensorData {
  const n = elementCount(dims);
  if (values.length !== n) {
    throw new Error(`tensor ${dtype}[${dims.join(',')}] needs ${n} values, got ${values.length}`);
  }
  const data = new Uint8Array(n * bytesPerElement(dtype));
  const view = new DataView(data.buffer);
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    switch (dtype) {
      case 'float32': view.setFloat32(i * 4, Number(v), true); break;
      case 'float64': view.setFloat64(i * 8, Number(v), true); break;
      case 'float16': view.setUint16(i * 2, values instanceof Uint16Array ? Number(v) : float16Bits(Number(v)), true); break;
      case 'bfloat16': view.setUint16(i * 2, values instanceof Uint16Array ? Number(v) : bfloat16Bits(Number(v)), true); break;
      case 'int64': view.setBigInt64(i * 8, typeof v === 'bigint' ? v : BigInt(Math.trunc(Number(v))), true); break;
      case 'int32': view.setInt32(i * 4, Number(v), true); break;
      case 'int8': view.setInt8(i, Number(v)); break;
      case 'uint8': view.setUint8(i, Number(v)); break;
      case 'bool': view.setUint8(i, v ? 1 : 0); break;
    }
  }
  return { dtype, dims: [...dims], data };
}

/** Scalar (rank 0) tensor. */
export function scalarTensor(dtype: DType, value: number | bigint | boolean): TensorData {
  return tensor(dtype, [], [value]);
}

/** Element values as JS numbers (int64 beyond 2^53 loses precision; juice uses int64 for shapes/ids). */
export function tensorValues(t: TensorData): number[] {
  const n = elementCount(t.dims);
  const view = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    switch (t.dtype) {
      case 'float32': out[i] = view.getFloat32(i * 4, true); break;
      case 'float64': out[i] = view.getFloat64(i * 8, true); break;
      case 'float16': out[i] = float16ToNumber(view.getUint16(i * 2, true)); break;
      case 'bfloat16': out[i] = bfloat16ToNumber(view.getUint16(i * 2, true)); break;
      case 'int64': out[i] = Number(view.getBigInt64(i * 8, true)); break;
      case 'int32': out[i] = view.getInt32(i * 4, true); break;
      case 'int8': out[i] = view.getInt8(i); break;
      case 'uint8': case 'bool': out[i] = view.getUint8(i); break;
    }
  }
  return out;
}

/** A short key identifying dtype, dims and bytes: equal keys + equal bytes mean equal tensors. */
export function tensorKey(t: TensorData): string {
  // FNV-1a over the bytes; collisions are resolved by comparing bytes in the caller.
  let h = 0x811c9dc5;
  for (let i = 0; i < t.data.length; i++) {
    h ^= t.data[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return `${t.dtype}[${t.dims.join(',')}]#${(h >>> 0).toString(16)}:${t.data.length}`;
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
