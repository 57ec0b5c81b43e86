// The one client-side push every caller uses: ask the target which version it serves, push the named
// tensors as version current + 1 (chunked by weightChunks), and say what was sent. The target is an
// interface, not a client, so a pool of replicas can implement it (push to all, answer the version all
// serve) without the callers changing.
import type { WeightChunk } from '@juice/proto';
import { weightChunks, type PushTensor } from './chunk.js';

/** Named float32 tensors, as the optimizer's ParamSet views them and the engine receives them. */
export type NamedTensors = ReadonlyMap<string, PushTensor>;

/** A role that takes weight pushes (a generator or reward-model client; later a pool of replicas). */
export interface PushTarget {
  getWeightVersion(req: object): Promise<{ active?: { number: bigint } }>;
  /** A pool answers how many replicas took the push (a single role: 1). */
  pushWeights(chunks: Iterable<WeightChunk>): Promise<{ bytes: bigint; replicas?: number }>;
}

export interface PushResult {
  /** The version now served. */
  version: bigint;
  bytes: bigint;
  seconds: number;
  /** Replicas now serving the version. */
  replicas: number;
}

/** Pushes `tensors` as the target's next version (current + 1). */
export async function pushNextVersion(target: PushTarget, tensors: NamedTensors, o: { label?: string; chunkBytes?: number } = {}): Promise<PushResult> {
  const t0 = Date.now();
  const version = ((await target.getWeightVersion({})).active?.number ?? 0n) + 1n;
  const pushed = await target.pushWeights(weightChunks(tensors, { version, label: o.label, chunkBytes: o.chunkBytes }));
  return { version, bytes: pushed.bytes, seconds: (Date.now() - t0) / 1000, replicas: pushed.replicas ?? 1 };
}
