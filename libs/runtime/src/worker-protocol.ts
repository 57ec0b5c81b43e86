// Messages between WorkerSession (event-loop thread) and worker.ts (the thread that owns the ORT session).
import type { SessionOptions, ValueInfo } from './session.js';
import type { TensorType, TypedArrayData } from './tensor.js';

export interface WorkerInit {
  model: Uint8Array | string;
  options: SessionOptions;
}

/** A tensor on the wire. Without dims the worker infers them from the model, as Session does. */
export interface WireTensor {
  data: TypedArrayData | string[];
  dims?: number[];
  type?: TensorType;
}

export type ToWorker =
  | { kind: 'run'; id: number; feeds: Record<string, WireTensor>; outputs?: string[] }
  | { kind: 'pin'; id: number; feeds: Record<string, WireTensor> }
  | { kind: 'release'; id: number };

export type FromWorker =
  | { kind: 'ready'; inputs: ValueInfo[]; outputs: ValueInfo[] }
  | { kind: 'init-error'; message: string; name: string }
  | { kind: 'result'; id: number; outputs: Record<string, Required<Omit<WireTensor, 'type'>> & { type: TensorType }> }
  | { kind: 'released'; id: number }
  | { kind: 'pinned'; id: number }
  | { kind: 'error'; id: number; message: string; name: string };

/** The buffer may be moved (transferred) only if the array spans all of it; otherwise copy first. */
export function ownsWholeBuffer(a: ArrayBufferView): boolean {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength && !(a.buffer instanceof SharedArrayBuffer);
}
