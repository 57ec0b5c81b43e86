// How the trainer pushes weights (trainer.proto WeightSyncConfig), in the terms PoolWeights takes, with
// the proto's defaults and the range of chunk sizes a push may use.
import type { FloatWireDtype } from './dtype-bytes.js';

/** WeightSyncConfig.chunk_bytes 0. */
export const DEFAULT_CHUNK_BYTES = 4 << 20;
/** Below this a push is mostly per-message overhead (framing, a sha256 and an await per chunk). */
export const MIN_CHUNK_BYTES = 64 << 10;
/**
 * The roles' default gRPC message limit is 64 MiB (service-kit DEFAULT_MAX_MESSAGE_BYTES); a chunk also
 * carries names, shapes and the header, so 1 MiB is left for them.
 */
export const MAX_CHUNK_BYTES = (64 << 20) - (1 << 20);
/** WeightSyncConfig.timeout_seconds 0. */
export const DEFAULT_PUSH_TIMEOUT_MS = 300_000;

export interface WeightSyncOptions {
  /** Largest data bytes per chunk. Default DEFAULT_CHUNK_BYTES. */
  chunkBytes?: number;
  /** Wire dtype. Default FLOAT32 (exact). */
  dtype?: FloatWireDtype;
  /**
   * true (default): stage on every replica, then activate on all, so no replica serves the new version
   * before every one holds it. false: every replica activates the push when it arrives (one RPC each).
   */
  twoPhase?: boolean;
  /** Send only the tensors that changed since the version a replica holds (REPLACE delta). Default false. */
  delta?: boolean;
  /** Deadline of one whole push (version query, transfer, activation). Default DEFAULT_PUSH_TIMEOUT_MS. */
  timeoutMs?: number;
}

/** Why a chunk size is out of range, or undefined when it is fine. */
export function chunkBytesProblem(bytes: number): string | undefined {
  if (!Number.isInteger(bytes) || bytes < MIN_CHUNK_BYTES || bytes > MAX_CHUNK_BYTES) return `${bytes} is out of range: 0 (= ${DEFAULT_CHUNK_BYTES} bytes) or ${MIN_CHUNK_BYTES}..${MAX_CHUNK_BYTES} bytes (the largest gRPC message, 64 MiB, less 1 MiB for names and headers)`;
  return undefined;
}
