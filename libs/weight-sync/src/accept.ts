// The whole PushWeights exchange for a serving role that keeps Float32 tensors by name: one push at a
// time, validate and assemble, apply a delta to the version it names, install (staged or active), and
// hand an activated version to the role's compute (`serve`) before answering.
import { create } from '@bufbuild/protobuf';
import { durationFromMs, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { PushWeightsResponseSchema, type PushWeightsResponse, type WeightChunk } from '@juice/proto';
import { applyDelta, receiveWeights } from './receive.js';
import type { VersionedWeights } from './versions.js';

export type TensorMap = Map<string, Float32Array>;

export async function acceptWeightPush(
  weights: VersionedWeights<TensorMap>,
  chunks: AsyncIterable<WeightChunk>,
  o: { expected: ReadonlyMap<string, readonly number[]>; signal?: AbortSignal; serve: (version: bigint, tensors: TensorMap) => Promise<void> },
): Promise<PushWeightsResponse> {
  const t0 = Date.now();
  return weights.exclusivePush(async () => {
    const got = await receiveWeights(chunks, { expected: o.expected, heldVersions: weights.heldVersions(), signal: o.signal });
    const base = weights.weightsOf(got.header.baseVersion) ?? weights.active.weights;
    const set = weights.install({ number: got.header.version!.number, label: got.header.version!.label, weights: applyDelta(base, got, o.expected) }, got.header.stageOnly);
    if (!got.header.stageOnly) await o.serve(set.number, set.weights);
    return create(PushWeightsResponseSchema, {
      acceptedVersion: { number: set.number, label: set.label, activatedAt: set.activatedAt ? timestampFromDate(set.activatedAt) : undefined },
      tensors: got.tensors.size,
      bytes: got.bytes,
      duration: durationFromMs(Date.now() - t0),
      activated: !got.header.stageOnly,
    });
  });
}
