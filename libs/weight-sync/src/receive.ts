// The receiving side of PushWeights (protocol in proto/juice/v1/common.proto): validates every chunk as
// it arrives (sequence, header, checksum, names, dtypes, shapes, piece order) and assembles Float32
// tensors, so nothing partial is ever installed. Any failure throws WeightPushError and the caller
// keeps serving its old version.
import { Dtype, WeightDeltaMode, weightChunkSha256, type WeightChunk, type WeightPushHeader } from '@juice/proto';
import { bytesPerElement, decodeFloatsInto } from './dtype-bytes.js';
import { WeightPushError } from './errors.js';
import { assertFinite } from './finite.js';

export interface ReceiveOptions {
  /** The model's trainable tensors: HF name → shape. Pushed names and shapes must match. */
  expected: ReadonlyMap<string, readonly number[]>;
  /** Versions this receiver holds (served, and staged if any): a push must be newer than all. */
  heldVersions: readonly bigint[];
  /** Refuse pushes whose decoded Float32 size exceeds this (RESOURCE_EXHAUSTED). Default: no limit. */
  maxBytes?: number;
  signal?: AbortSignal;
  /** The receiver serves LoRA adapters: a lora_adapter_only push is checked against `expected` (the adapter's PEFT tensors). */
  loraAdapter?: boolean;
  /**
   * Assemble every tensor in a SharedArrayBuffer, so handing the version to worker threads (the engine,
   * the scorer) shares the memory instead of structured-cloning it: a 455 MB clone took ~5 s per worker.
   * The arrays are not written after the push returns, so sharing them is safe.
   */
  shared?: boolean;
}

/** Where a receive spent its time (milliseconds), for the push's timing split. */
export interface ReceiveTimings {
  /** Waiting for the next chunk: transfer, gRPC framing and protobuf decoding, upstream of this loop. */
  waitMs: number;
  /** Re-hashing every chunk (weightChunkSha256). */
  checksumMs: number;
  /** Validation, allocation, float decode into the tensors and the finite check. */
  decodeMs: number;
}

export interface ReceivedWeights {
  header: WeightPushHeader;
  /** Decoded tensors; for FULL pushes every expected tensor, for deltas only the sent ones. */
  tensors: Map<string, Float32Array>;
  /** Data bytes received (wire size). */
  bytes: bigint;
  chunks: number;
  timings: ReceiveTimings;
}

interface Assembly {
  dtype: Dtype;
  data: Float32Array;
  /** Next expected byte offset. */
  next: number;
  size: number;
}

const fail = (code: WeightPushError['grpcCode'], msg: string): never => {
  throw new WeightPushError(code, msg);
};

function sameShape(a: readonly bigint[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => Number(d) === b[i]);
}

export async function receiveWeights(chunks: AsyncIterable<WeightChunk>, o: ReceiveOptions): Promise<ReceivedWeights> {
  let header: WeightPushHeader | undefined;
  let sequence = 0n;
  let bytes = 0n;
  let decodedBytes = 0;
  const parts = new Map<string, Assembly>();
  const timings: ReceiveTimings = { waitMs: 0, checksumMs: 0, decodeMs: 0 };
  const alloc = o.shared ? (n: number) => new Float32Array(new SharedArrayBuffer(n * 4)) : (n: number) => new Float32Array(n);
  let tick = performance.now();
  const lap = (): number => {
    const now = performance.now();
    const ms = now - tick;
    tick = now;
    return ms;
  };

  for await (const chunk of chunks) {
    timings.waitMs += lap();
    o.signal?.throwIfAborted();
    if (chunk.sequence !== sequence) fail('INVALID_ARGUMENT', `chunk sequence ${chunk.sequence}: expected ${sequence} (chunks are numbered from 0 without gaps)`);
    if (sequence === 0n) {
      if (!chunk.header) fail('INVALID_ARGUMENT', 'the first chunk must carry the header');
      header = chunk.header!;
      checkHeader(header, o);
    } else if (chunk.header) fail('INVALID_ARGUMENT', `chunk ${sequence}: only the first chunk may carry a header`);
    timings.decodeMs += lap();
    const actual = weightChunkSha256(chunk.tensors);
    timings.checksumMs += lap();
    if (actual !== chunk.sha256) fail('DATA_LOSS', `chunk ${sequence}: sha256 mismatch (sent ${chunk.sha256 || '(none)'}, computed ${actual}); resend the push`);

    for (const [i, p] of chunk.tensors.entries()) {
      const where = `chunk ${sequence} tensors[${i}] "${p.name}"`;
      const shape = o.expected.get(p.name);
      if (!shape) fail('INVALID_ARGUMENT', `${where}: the model has no tensor of that name`);
      if (!sameShape(p.shape, shape!)) fail('INVALID_ARGUMENT', `${where}: shape [${p.shape.join(', ')}] does not match the model's [${shape!.join(', ')}]`);
      const esize = bytesPerElement(p.dtype);
      const elements = shape!.reduce((a, b) => a * b, 1);
      let a = parts.get(p.name);
      if (!a) {
        decodedBytes += elements * 4;
        if (o.maxBytes !== undefined && decodedBytes > o.maxBytes) fail('RESOURCE_EXHAUSTED', `${where}: the push needs more than the ${o.maxBytes} bytes this receiver may stage`);
        a = { dtype: p.dtype, data: alloc(elements), next: 0, size: elements * esize };
        parts.set(p.name, a);
      }
      if (p.dtype !== a.dtype) fail('INVALID_ARGUMENT', `${where}: dtype ${Dtype[p.dtype]} differs from its earlier pieces (${Dtype[a.dtype]})`);
      if (Number(p.offset) !== a.next) fail('INVALID_ARGUMENT', `${where}: piece at byte offset ${p.offset}, expected ${a.next} (pieces must be in order without gaps or overlap)`);
      if (p.data.byteLength % esize !== 0) fail('INVALID_ARGUMENT', `${where}: ${p.data.byteLength} bytes is not a whole number of ${Dtype[p.dtype]} elements`);
      if (a.next + p.data.byteLength > a.size) fail('INVALID_ARGUMENT', `${where}: data runs past the tensor's ${a.size} bytes`);
      const at = a.next / esize;
      decodeFloatsInto(p.data, p.dtype, a.data, at);
      // Checked piece by piece, so a bad push fails at its first bad element, not after the whole stream.
      assertFinite(p.name, a.data, `in chunk ${sequence} of the push`, { shape, from: at, to: at + p.data.byteLength / esize });
      a.next += p.data.byteLength;
      bytes += BigInt(p.data.byteLength);
    }
    sequence++;
    timings.decodeMs += lap();
  }

  if (!header) fail('INVALID_ARGUMENT', 'the push stream was empty (expected a header chunk)');
  const h = header!;
  for (const [name, a] of parts) if (a.next !== a.size) fail('INVALID_ARGUMENT', `tensor "${name}" is incomplete: ${a.next} of ${a.size} bytes arrived`);
  if (parts.size !== h.totalTensors) fail('INVALID_ARGUMENT', `header.total_tensors is ${h.totalTensors} but ${parts.size} tensors arrived`);
  if (bytes !== h.totalBytes) fail('INVALID_ARGUMENT', `header.total_bytes is ${h.totalBytes} but ${bytes} bytes arrived`);
  const mode = h.deltaMode === WeightDeltaMode.UNSPECIFIED ? WeightDeltaMode.FULL : h.deltaMode;
  if (mode === WeightDeltaMode.FULL) {
    const missing = [...o.expected.keys()].filter((n) => !parts.has(n));
    if (missing.length > 0) fail('INVALID_ARGUMENT', `a FULL push must send every tensor; missing ${missing.length}: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`);
  }
  return { header: h, tensors: new Map([...parts].map(([n, a]) => [n, a.data])), bytes, chunks: Number(sequence), timings };
}

function checkHeader(h: WeightPushHeader, o: ReceiveOptions): void {
  const v = h.version?.number;
  if (v === undefined) fail('INVALID_ARGUMENT', 'header.version is required');
  const newest = o.heldVersions.reduce((m, x) => (x > m ? x : m), 0n);
  if (v! <= newest) fail('INVALID_ARGUMENT', `header.version.number ${v} must be greater than the version held (${newest})`);
  if (h.totalTensors === 0) fail('INVALID_ARGUMENT', 'header.total_tensors must be > 0');
  if (h.totalBytes === 0n) fail('INVALID_ARGUMENT', 'header.total_bytes must be > 0');
  if (h.loraAdapterOnly && !o.loraAdapter) fail('FAILED_PRECONDITION', 'header.lora_adapter_only: this model serves no LoRA adapters; push the merged weights');
  const mode = h.deltaMode;
  if (mode === WeightDeltaMode.REPLACE || mode === WeightDeltaMode.ADD) {
    if (!o.heldVersions.includes(h.baseVersion)) fail('FAILED_PRECONDITION', `header.base_version ${h.baseVersion} is not held here (held: ${o.heldVersions.join(', ')}); send a FULL push`);
  } else if (mode !== WeightDeltaMode.FULL && mode !== WeightDeltaMode.UNSPECIFIED) fail('INVALID_ARGUMENT', `header.delta_mode ${mode} is unknown`);
}

/**
 * Applies a received delta to a copy of `base`: REPLACE swaps tensors, ADD adds them elementwise. An ADD
 * whose sum overflows float32 (finite base + finite delta = ±Inf) is refused like a non-finite push.
 * `shapes` (the model's) only adds coordinates to that message.
 */
export function applyDelta(base: ReadonlyMap<string, Float32Array>, received: ReceivedWeights, shapes?: ReadonlyMap<string, readonly number[]>): Map<string, Float32Array> {
  const mode = received.header.deltaMode;
  if (mode === WeightDeltaMode.FULL || mode === WeightDeltaMode.UNSPECIFIED) return received.tensors;
  const out = new Map(base);
  for (const [name, t] of received.tensors) {
    if (mode === WeightDeltaMode.REPLACE) out.set(name, t);
    else {
      const b = base.get(name)!;
      // Same memory kind as the received tensors (shared ones go to worker threads without a copy).
      const sum = t.buffer instanceof SharedArrayBuffer ? new Float32Array(new SharedArrayBuffer(b.length * 4)) : new Float32Array(b.length);
      for (let i = 0; i < b.length; i++) sum[i] = b[i]! + t[i]!;
      assertFinite(name, sum, `in base version ${received.header.baseVersion} + the ADD delta (the sum overflows float32)`, { shape: shapes?.get(name) });
      out.set(name, sum);
    }
  }
  return out;
}
