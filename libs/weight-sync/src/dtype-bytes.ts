// Wire encodings of float tensors (little-endian, row-major), to and from the Float32Array juice
// computes in. f16/bf16 halve the bytes of a push at a small precision cost the sender chooses.
import { Dtype } from '@juice/proto';
import { bfloat16Bits, bfloat16ToNumber, float16Bits, float16ToNumber } from '@juice/onnx';
import { WeightPushError } from './errors.js';

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export const FLOAT_WIRE_DTYPES = [Dtype.FLOAT32, Dtype.FLOAT16, Dtype.BFLOAT16] as const;
export type FloatWireDtype = (typeof FLOAT_WIRE_DTYPES)[number];

export function bytesPerElement(dtype: Dtype): number {
  switch (dtype) {
    case Dtype.FLOAT32:
      return 4;
    case Dtype.FLOAT16:
    case Dtype.BFLOAT16:
      return 2;
    default:
      throw new WeightPushError('INVALID_ARGUMENT', `dtype ${Dtype[dtype] ?? dtype} is not a float weight dtype (FLOAT32, FLOAT16, BFLOAT16)`);
  }
}

export function encodeFloats(values: Float32Array, dtype: FloatWireDtype): Uint8Array {
  if (dtype === Dtype.FLOAT32) {
    // Copy: the caller's buffer may change (training continues) while the push is in flight.
    return new Uint8Array(values.slice().buffer);
  }
  const out = new Uint16Array(values.length);
  const bits = dtype === Dtype.FLOAT16 ? float16Bits : bfloat16Bits;
  for (let i = 0; i < values.length; i++) out[i] = bits(values[i]!);
  return new Uint8Array(out.buffer);
}

/** Decodes `bytes` (whole elements) into `out` starting at element `at`. */
export function decodeFloatsInto(bytes: Uint8Array, dtype: Dtype, out: Float32Array, at: number): void {
  if (dtype === Dtype.FLOAT32 && LITTLE_ENDIAN) {
    // The wire is little-endian float32, as the host: one byte copy (memcpy), not a DataView read per
    // element (that loop was most of a receive's time). Byte-wise because the piece may sit at any offset.
    new Uint8Array(out.buffer, out.byteOffset + at * 4, bytes.byteLength).set(bytes);
    return;
  }
  if (dtype === Dtype.FLOAT32) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < bytes.byteLength / 4; i++) out[at + i] = view.getFloat32(i * 4, true);
    return;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const conv = dtype === Dtype.FLOAT16 ? float16ToNumber : bfloat16ToNumber;
  for (let i = 0; i < bytes.byteLength / 2; i++) out[at + i] = conv(view.getUint16(i * 2, true));
}
