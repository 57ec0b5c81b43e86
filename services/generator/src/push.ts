// PushWeights/ActivateWeights over the versioned weights: validated in full before anything changes,
// then handed to the engine, which switches once no request needs the old version.
import { create } from '@bufbuild/protobuf';
import { timestampFromDate, durationFromMs } from '@bufbuild/protobuf/wkt';
import { PushWeightsResponseSchema, type PushWeightsResponse, type WeightChunk } from '@juice/proto';
import { applyDelta, receiveWeights } from '@juice/weight-sync';
import type { ModelHost } from './model-host.js';

export async function pushWeights(host: ModelHost, chunks: AsyncIterable<WeightChunk>, signal: AbortSignal): Promise<PushWeightsResponse> {
  const t0 = Date.now();
  return host.weights.exclusivePush(async () => {
    const got = await receiveWeights(chunks, { expected: host.shapes, heldVersions: host.weights.heldVersions(), signal });
    const base = host.weights.weightsOf(got.header.baseVersion) ?? host.weights.active.weights;
    const weights = applyDelta(base, got);
    const number = got.header.version!.number;
    const set = host.weights.install({ number, label: got.header.version!.label, weights }, got.header.stageOnly);
    if (!got.header.stageOnly) await host.serveWeights(number, weights);
    return create(PushWeightsResponseSchema, {
      acceptedVersion: { number, label: set.label, activatedAt: set.activatedAt ? timestampFromDate(set.activatedAt) : undefined },
      tensors: got.tensors.size,
      bytes: got.bytes,
      duration: durationFromMs(Date.now() - t0),
      activated: !got.header.stageOnly,
    });
  });
}

export async function activate(host: ModelHost, version: bigint) {
  const { active, previous } = host.weights.activate(version);
  await host.serveWeights(active.number, active.weights);
  return { active: host.version(), previous: { number: previous.number, label: previous.label } };
}
