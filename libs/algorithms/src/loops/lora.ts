// LoRA training in the loops (PEFT semantics, libs/models lora.ts): the loop's `params` are the adapters
// only (lora_A / lora_B under PEFT names), so the gradient buffer, clipping, the optimizer's moments and
// the checkpointed optimizer state cover the adapters and nothing else. The frozen base weights are fed to
// every session as extra inputs (zero-copy views of the base ParamSet): they are never differentiated
// (autograd's `wrt` is the adapters) and hold no optimizer state.
//
// References (DPO, IRFT) run the same weights: the graph is built `switchable`, and `lora_enabled` = 0
// computes the base (the adapters' branch is multiplied by an exact 0), = 1 with a snapshot of the
// adapters computes that snapshot (IRFT's stage-start reference). No second copy of the base weights.
import { buildCausalLm, LORA_ENABLED_INPUT, loraDropoutInputs, seededUniform, type FloatType, type LoraSpec, type ModelConfig } from '@juice/models';
import type { ParamSet } from '@juice/optim';
import type { Feeds } from '@juice/runtime';

export interface LoraTraining {
  spec: LoraSpec;
  /** The frozen base weights (the model's ParamSet): fed, never trained. */
  base: ParamSet;
}

/** The base weights as session feeds (views, no copy). */
export function baseWeightFeeds(base: ParamSet): Feeds {
  const feeds: Feeds = {};
  for (const e of base.entries) feeds[e.name] = { data: base.view(e.name), dims: e.shape as number[], type: 'float32' };
  return feeds;
}

/** The `lora_enabled` feed of a switchable graph: 1 = the adapted model, 0 = the base. */
export function loraEnabledFeed(on: boolean): Feeds {
  return { [LORA_ENABLED_INPUT]: { data: Float32Array.of(on ? 1 : 0), dims: [], type: 'float32' } };
}

/**
 * The causal LM a LoRA loop trains (`train`: lora_dropout applied) or uses as a reference/evaluation forward
 * (no dropout, switchable). Without `lora`, the full-parameter graph, unchanged.
 */
export function loopCausalLm(config: ModelConfig, lora: LoraTraining | undefined, o: { dtype?: FloatType; role: 'train' | 'reference' }) {
  if (!lora) return buildCausalLm(config, { dtype: o.dtype });
  return buildCausalLm(config, { dtype: o.dtype, lora: lora.spec, loraGraph: o.role === 'train' ? { train: true, dropoutInputs: true } : { switchable: true } });
}

/** Where a micro-batch's dropout masks come from: the loop's seed, the optimizer step and the micro-batch. */
export interface DropoutKey {
  seed: number;
  step: number;
  micro: number;
}

/**
 * PEFT's lora_dropout masks for one micro-batch of `rows` activation rows (B·T): per adapted module (each
 * nn.Dropout draws its own), keep with probability 1 − p, kept entries scaled by 1/(1 − p). Drawn from a
 * stream keyed by (seed, step, micro-batch, module), so a resumed job draws the masks an uninterrupted run
 * drew at that step. Empty without dropout.
 */
export function loraDropoutFeeds(config: ModelConfig, spec: LoraSpec, rows: number, key: DropoutKey): Record<string, { data: Float32Array; dims: number[]; type: 'float32' }> {
  const p = spec.dropout ?? 0;
  const feeds: Record<string, { data: Float32Array; dims: number[]; type: 'float32' }> = {};
  if (p === 0) return feeds;
  const kept = 1 / (1 - p);
  loraDropoutInputs(config, spec).forEach((d, i) => {
    // A distinct stream per (seed, step, micro, module): hashed so neighbouring keys do not share a prefix.
    const rand = seededUniform(Math.imul(key.seed ^ Math.imul(key.step + 1, 0x9e3779b1), 0x85ebca6b) ^ Math.imul(key.micro + 1, 0xc2b2ae35) ^ Math.imul(i + 1, 0x27d4eb2f));
    const mask = new Float32Array(rows * d.width);
    for (let k = 0; k < mask.length; k++) mask[k] = rand() < p ? 0 : kept;
    feeds[d.name] = { data: mask, dims: [rows, d.width], type: 'float32' };
  });
  return feeds;
}
