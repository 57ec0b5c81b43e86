// The whole PushWeights exchange for a serving role that keeps Float32 tensors by name: one push at a
// time, validate and assemble, apply a delta to the version it names, install (staged or active), and
// hand an activated version to the role's compute (`serve`) before answering.
import { create } from '@bufbuild/protobuf';
import { durationFromMs, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { PushWeightsResponseSchema, type PushWeightsResponse, type WeightChunk } from '@juice/proto';
import { applyDelta, receiveWeights, type ReceiveTimings } from './receive.js';
import type { VersionedWeights } from './versions.js';

export type TensorMap = Map<string, Float32Array>;

/** A received push's time split (milliseconds): the receive loop's parts, then install and serve. */
export interface PushTimings extends ReceiveTimings {
  version: bigint;
  bytes: bigint;
  /** Delta applied and the version installed (staged or active). */
  installMs: number;
  /** Handing an activated version to the role's compute (0 for a stage-only push). */
  serveMs: number;
  totalMs: number;
}

export async function acceptWeightPush(
  weights: VersionedWeights<TensorMap>,
  chunks: AsyncIterable<WeightChunk>,
  o: {
    expected: ReadonlyMap<string, readonly number[]>;
    signal?: AbortSignal;
    serve: (version: bigint, tensors: TensorMap) => Promise<void>;
    /** Told the time split of every accepted push (the roles log it; the bench reads the log). */
    onTimings?: (t: PushTimings) => void;
  },
): Promise<PushWeightsResponse> {
  const t0 = performance.now();
  return weights.exclusivePush(async () => {
    // Shared memory: the role's worker threads receive the tensors without a copy (see ReceiveOptions.shared).
    const got = await receiveWeights(chunks, { expected: o.expected, heldVersions: weights.heldVersions(), signal: o.signal, shared: true });
    const t1 = performance.now();
    const base = weights.weightsOf(got.header.baseVersion) ?? weights.active.weights;
    const set = weights.install({ number: got.header.version!.number, label: got.header.version!.label, weights: applyDelta(base, got, o.expected) }, got.header.stageOnly);
    const t2 = performance.now();
    if (!got.header.stageOnly) await o.serve(set.number, set.weights);
    const t3 = performance.now();
    o.onTimings?.({ version: set.number, bytes: got.bytes, ...got.timings, installMs: t2 - t1, serveMs: t3 - t2, totalMs: t3 - t0 });
    return create(PushWeightsResponseSchema, {
      acceptedVersion: { number: set.number, label: set.label, activatedAt: set.activatedAt ? timestampFromDate(set.activatedAt) : undefined },
      tensors: got.tensors.size,
      bytes: got.bytes,
      duration: durationFromMs(Math.round(t3 - t0)),
      activated: !got.header.stageOnly,
    });
  });
}

/** The log line every serving role writes per accepted push (the bench's `push` section reads it). */
export const PUSH_TIMINGS_LOG = 'weight push received';

/** PushTimings as plain numbers for a JSON log line. */
export function pushTimingFields(t: PushTimings): Record<string, number> {
  const ms = (x: number) => Math.round(x * 10) / 10;
  return {
    version: Number(t.version),
    bytes: Number(t.bytes),
    wait_ms: ms(t.waitMs),
    checksum_ms: ms(t.checksumMs),
    decode_ms: ms(t.decodeMs),
    install_ms: ms(t.installMs),
    serve_ms: ms(t.serveMs),
    total_ms: ms(t.totalMs),
  };
}
