// onnxruntime-node reads only ArrayBuffer-backed arrays (a SharedArrayBuffer-backed one is refused with
// "Invalid argument"), so a weight version that reached a worker thread in shared memory is copied into
// the thread's own memory once, when it arrives. Where the array it replaces is free (nothing computes
// with it), the copy goes into that array: memory already mapped is ~100x cheaper to write than fresh
// pages on a VM that faults every new page in from the host (measured: 13 GB/s vs 0.13 GB/s).
import type { TypedArrayData } from './tensor.js';

export function isShared(a: ArrayBufferView): boolean {
  return a.buffer instanceof SharedArrayBuffer;
}

/**
 * `data` in this thread's memory: unchanged unless shared; a shared array is copied into `reuse` when that
 * is an unshared array of the same type and length the caller may overwrite, else into a new array.
 */
export function ownCopy<T extends TypedArrayData>(data: T, reuse?: unknown): T {
  if (!isShared(data)) return data;
  if (reuse && ArrayBuffer.isView(reuse) && !isShared(reuse) && reuse.constructor === data.constructor && (reuse as T).length === data.length) {
    (reuse as T).set(data as never);
    return reuse as T;
  }
  return data.slice() as T;
}
