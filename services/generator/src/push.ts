// PushWeights/ActivateWeights over the versioned weights: validated in full before anything changes,
// then handed to the engine, which switches once no request needs the old version.
import type { PushWeightsResponse, WeightChunk } from '@juice/proto';
import { acceptWeightPush } from '@juice/weight-sync';
import type { ModelHost } from './model-host.js';

export function pushWeights(host: ModelHost, chunks: AsyncIterable<WeightChunk>, signal: AbortSignal): Promise<PushWeightsResponse> {
  return acceptWeightPush(host.weights, chunks, { expected: host.shapes, signal, serve: (version, weights) => host.serveWeights(version, weights) });
}

export async function activate(host: ModelHost, version: bigint) {
  const { active, previous } = host.weights.activate(version);
  await host.serveWeights(active.number, active.weights);
  return { active: host.version(), previous: { number: previous.number, label: previous.label } };
}
