// Pushed weights must be finite. A NaN or ±Inf weight makes every output NaN, and the activations it
// produces outlive the version in whatever state the serving role keeps between requests, so such a
// push is refused whole (INVALID_ARGUMENT naming the tensor and its first bad element) and the
// previous version keeps serving.
import { WeightPushError } from './errors.js';

/** Index of the first NaN or ±Inf in data[from, to), or -1. */
export function firstNonFinite(data: Float32Array, from = 0, to = data.length): number {
  // v - v is 0 for every finite v and NaN for NaN and ±Inf: one subtraction, no call per element.
  for (let i = from; i < to; i++) {
    const v = data[i]!;
    if (v - v !== 0) return i;
  }
  return -1;
}

/** Row-major coordinates of flat element `i` of a tensor of `shape`. */
function coordinates(i: number, shape: readonly number[]): number[] {
  const at = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    at[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return at;
}

/**
 * Throws INVALID_ARGUMENT if data[from, to) of tensor `name` holds a NaN or ±Inf. `source` says where the
 * values came from (e.g. "in chunk 3 of the push") so the sender knows what to fix; `shape`, when
 * known, adds the element's coordinates.
 */
export function assertFinite(name: string, data: Float32Array, source: string, o: { shape?: readonly number[]; from?: number; to?: number } = {}): void {
  const i = firstNonFinite(data, o.from, o.to);
  if (i < 0) return;
  const v = data[i]!;
  const at = o.shape ? ` (index [${coordinates(i, o.shape).join(', ')}] of shape [${o.shape.join(', ')}])` : '';
  throw new WeightPushError('INVALID_ARGUMENT', `tensor "${name}" element ${i}${at} is ${Number.isNaN(v) ? 'NaN' : v > 0 ? '+Inf' : '-Inf'} ${source}; weights must be finite, the push is refused`);
}
