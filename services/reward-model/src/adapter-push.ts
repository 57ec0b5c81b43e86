// An adapter-only push to the reward model (WeightPushHeader.lora_adapter_only): a LoRA reward model's
// adapters (PEFT names) and optionally its trained score head (PEFT SEQ_CLS modules_to_save, sent as
// "base_model.model.<score head>", the name adapter_model.safetensors gives it), applied on top of the
// base the active version holds. The reward model holds ONE adapter: Score and Compare have no adapter
// field, so a push replaces the previous adapter; a FULL push of base weights serves the base alone.
// The new version's map shares every base tensor with the active one, so only the adapter is copied to
// the scoring worker.
import { create } from '@bufbuild/protobuf';
import { durationFromMs, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { loraParameterShapes, loraTargets, stackAdapters, type LoraSpec } from '@juice/models';
import { PushWeightsResponseSchema, WeightDeltaMode, type LoraConfig, type PushWeightsResponse, type WeightChunk } from '@juice/proto';
import { StatusError } from '@juice/proto/status-error';
import { receiveWeights } from '@juice/weight-sync';
import type { RewardHost, WeightMap } from './reward-host.js';

/** The one adapter slot's name (PEFT's default adapter name); an empty header.adapter_name means it too. */
export const REWARD_ADAPTER = 'default';

const bad = (field: string, msg: string) => new StatusError('INVALID_ARGUMENT', `header.${field}: ${msg}`, { retryable: false });

function specOf(l: LoraConfig): LoraSpec {
  return { rank: l.rank, alpha: l.alpha === 0 ? l.rank : l.alpha, dropout: l.dropout, targetModules: [...l.targetModules], useRslora: l.useRslora };
}

/** The PEFT name of a pushed score head (as adapter_model.safetensors stores modules_to_save). */
export function pushedHeadName(host: RewardHost): string {
  return `base_model.model.${host.headName}`;
}

export async function pushRewardAdapter(host: RewardHost, first: WeightChunk, chunks: AsyncIterable<WeightChunk>, signal: AbortSignal): Promise<PushWeightsResponse> {
  const t0 = Date.now();
  const h = first.header!;
  if (h.deltaMode !== WeightDeltaMode.FULL && h.deltaMode !== WeightDeltaMode.UNSPECIFIED) throw bad('delta_mode', 'an adapter push sends every adapter tensor (FULL)');
  if (!h.lora || h.lora.rank === 0) throw bad('lora', 'is required (rank >= 1) when lora_adapter_only');
  if (h.adapterName && h.adapterName !== REWARD_ADAPTER) {
    throw bad('adapter_name', `the reward model holds one adapter (Score and Compare name none); leave it empty or "${REWARD_ADAPTER}", got ${JSON.stringify(h.adapterName.slice(0, 64))}`);
  }
  const spec = specOf(h.lora);
  const c = host.model.config;
  try {
    loraTargets(c, spec);
  } catch (e) {
    throw new StatusError('INVALID_ARGUMENT', `header.${(e as Error).message}`, { retryable: false });
  }
  const expected = new Map<string, readonly number[]>(loraParameterShapes(c, spec).map((p) => [p.name, p.shape]));
  // The score head is optional (PEFT modules_to_save): the header's tensor count says whether it comes.
  const head = pushedHeadName(host);
  const withHead = h.totalTensors === expected.size + 1;
  if (withHead) expected.set(head, [1, c.hiddenSize]);
  else if (h.totalTensors !== expected.size) {
    throw bad('total_tensors', `an adapter push of this lora config sends ${expected.size} tensors, or ${expected.size + 1} with the score head "${head}"; got ${h.totalTensors}`);
  }
  return host.weights.exclusivePush(async () => {
    const got = await receiveWeights(chunks, { expected, heldVersions: host.weights.heldVersions(), signal, loraAdapter: true });
    const active = host.weights.active.weights;
    const baseHead = host.adapterOf.get(active)?.baseHead ?? active.get(host.headName)!;
    const stacks = stackAdapters(c, [{ name: REWARD_ADAPTER, spec, tensors: got.tensors }]).tensors;
    // Base tensors are the active version's arrays (shared, not copied); the adapter version differs
    // from it only in its stacks and head.
    const weights: WeightMap = new Map(active);
    for (const [n, t] of stacks) weights.set(n, t.data);
    weights.set(host.headName, got.tensors.get(head) ?? baseHead);
    host.adapterOf.set(weights, { spec, baseHead, bytes: Number(got.bytes) });
    const set = host.weights.install({ number: got.header.version!.number, label: got.header.version!.label || 'adapter', weights }, got.header.stageOnly);
    if (!got.header.stageOnly) await host.serve(set.weights, set.number);
    return create(PushWeightsResponseSchema, {
      acceptedVersion: { number: set.number, label: set.label, activatedAt: set.activatedAt ? timestampFromDate(set.activatedAt) : undefined },
      tensors: got.tensors.size,
      bytes: got.bytes,
      duration: durationFromMs(Date.now() - t0),
      activated: !got.header.stageOnly,
    });
  });
}
