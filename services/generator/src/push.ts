// PushWeights/ActivateWeights over the versioned weights: validated in full before anything changes,
// then handed to the engine, which switches once no request needs the old version. A push with
// lora_adapter_only installs (or replaces) one named adapter on top of the held base; RemoveAdapter drops
// one. Both take a new version number, so a version names the base and the adapter set together.
import { create } from '@bufbuild/protobuf';
import { durationFromMs, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { PushWeightsResponseSchema, WeightDeltaMode, type PushWeightsResponse, type WeightChunk } from '@juice/proto';
import { StatusError } from '@juice/proto/status-error';
import type { Logger } from '@juice/service-kit';
import { acceptWeightPush, peekFirstChunk, pushTimingFields, PUSH_TIMINGS_LOG, receiveWeights } from '@juice/weight-sync';
import { checkAdapterName, specOf } from './adapters.js';
import type { ModelHost } from './model-host.js';

export async function pushWeights(host: ModelHost, chunks: AsyncIterable<WeightChunk>, signal: AbortSignal, log?: Logger): Promise<PushWeightsResponse> {
  const { first, all } = await peekFirstChunk(chunks);
  if (first?.header?.loraAdapterOnly && host.adapters) return pushAdapter(host, first, all, signal);
  return acceptWeightPush(host.weights, all, {
    expected: host.shapes,
    signal,
    serve: (version, weights) => host.serveWeights(version, weights),
    onTimings: (t) => log?.info(PUSH_TIMINGS_LOG, pushTimingFields(t)),
  });
}

async function pushAdapter(host: ModelHost, first: WeightChunk, chunks: AsyncIterable<WeightChunk>, signal: AbortSignal): Promise<PushWeightsResponse> {
  const t0 = Date.now();
  const h = first.header!;
  const adapters = host.adapters!;
  const bad = (field: string, msg: string) => new StatusError('INVALID_ARGUMENT', `header.${field}: ${msg}`, { retryable: false });
  if (h.stageOnly) throw bad('stage_only', 'adapter pushes are served at once; stage_only is for full weight pushes');
  if (h.deltaMode !== WeightDeltaMode.FULL && h.deltaMode !== WeightDeltaMode.UNSPECIFIED) throw bad('delta_mode', 'an adapter push sends every adapter tensor (FULL)');
  if (!h.lora || h.lora.rank === 0) throw bad('lora', 'is required (rank >= 1) when lora_adapter_only');
  const name = checkAdapterName(h.adapterName, 'header.adapter_name');
  const spec = specOf(h.lora);
  const expected = adapters.expected(spec);
  adapters.checkRoom(name);
  return host.weights.exclusivePush(async () => {
    const got = await receiveWeights(chunks, { expected, heldVersions: host.weights.heldVersions(), signal, loraAdapter: true });
    const missing = [...expected.keys()].filter((n) => !got.tensors.has(n));
    if (missing.length) throw bad('total_tensors', `an adapter push sends every tensor of the adapter; missing ${missing.length}: ${missing.slice(0, 3).join(', ')}`);
    adapters.checkRoom(name);
    const version = got.header.version!.number;
    // The base tensors are shared with the previous version: nothing of the base is copied.
    const set = host.weights.install({ number: version, label: got.header.version!.label || `adapter ${name}`, weights: host.weights.active.weights }, false);
    adapters.put(name, spec, got.tensors, version);
    await host.serveAdapters(version);
    return create(PushWeightsResponseSchema, {
      acceptedVersion: { number: set.number, label: set.label, activatedAt: set.activatedAt ? timestampFromDate(set.activatedAt) : undefined },
      tensors: got.tensors.size,
      bytes: got.bytes,
      duration: durationFromMs(Date.now() - t0),
      activated: true,
    });
  });
}

/** Drops a named adapter as a new version (the newest held + 1). */
export async function removeAdapter(host: ModelHost, name: string) {
  if (!host.adapters) throw new StatusError('FAILED_PRECONDITION', 'this generator serves no LoRA adapters (start it with --max-adapters N)', { retryable: false });
  if (!name) throw new StatusError('INVALID_ARGUMENT', 'name: is required', { retryable: false });
  return host.weights.exclusivePush(async () => {
    host.adapters!.remove(name);
    const version = host.weights.heldVersions().reduce((m, v) => (v > m ? v : m), 0n) + 1n;
    host.weights.install({ number: version, label: `removed adapter ${name.slice(0, 64)}`, weights: host.weights.active.weights }, false);
    await host.serveAdapters(version);
    return { active: host.version() };
  });
}

export async function activate(host: ModelHost, version: bigint, log?: Logger) {
  const t0 = performance.now();
  const { active, previous } = host.weights.activate(version);
  await host.serveWeights(active.number, active.weights);
  if (active !== previous) log?.info('weights activated', { version: Number(version), serve_ms: Math.round((performance.now() - t0) * 10) / 10 });
  return { active: host.version(), previous: { number: previous.number, label: previous.label } };
}
