// The architecture registry: which module (llama-family.ts, gpt-neox.ts) serves a model, and the
// questions the rest of juice asks about an architecture. Adding an architecture means adding a module
// here; nothing outside architectures/ branches on ModelConfig.architecture.
import type { GraphBuilder, Value } from '@juice/onnx';
import type { Architecture, ModelConfig } from '../model-config.js';
import type { Attend, FloatType, Weights } from '../graph/types.js';
import { gptNeox } from './gpt-neox.js';
import { llamaFamily } from './llama-family.js';
import type { ArchitectureModule } from './types.js';

const MODULES: readonly ArchitectureModule[] = [llamaFamily, gptNeox];

const BY_MODEL_TYPE: ReadonlyMap<string, ArchitectureModule> = new Map(MODULES.flatMap((m) => m.modelTypes.map((t) => [t, m] as const)));

/** Every supported model_type. */
export const MODEL_TYPES: readonly Architecture[] = MODULES.flatMap((m) => m.modelTypes);

/**
 * The model_type of each transformers class juice loads (config.json architectures[0]): module by module,
 * its causal LMs then its sequence classifiers (the order configFromHf's error lists them in).
 */
export const HF_CLASS_ARCHITECTURES: Readonly<Record<string, Architecture>> = Object.fromEntries(
  MODULES.flatMap((m) => [...m.modelTypes.map((t) => [m.causalLmClass(t), t]), ...m.modelTypes.map((t) => [m.sequenceClassifierClass(t), t])]),
);

/** Every transformers class juice loads with its model_type and head: all causal LMs, then all sequence classifiers. */
export const HF_CLASS_HEADS: readonly { hfClass: string; architecture: Architecture; head: 'lm' | 'sequence-classification' }[] = [
  ...MODULES.flatMap((m) => m.modelTypes.map((t) => ({ hfClass: m.causalLmClass(t), architecture: t, head: 'lm' as const }))),
  ...MODULES.flatMap((m) => m.modelTypes.map((t) => ({ hfClass: m.sequenceClassifierClass(t), architecture: t, head: 'sequence-classification' as const }))),
];

/** The module of a model type. A ModelConfig built by hand with another name gets the Llama family, as it always did. */
export function architectureModule(a: Architecture): ArchitectureModule {
  return BY_MODEL_TYPE.get(a) ?? llamaFamily;
}

/** The prefix of per-layer tensor names, followed by the layer index ("model.layers." for Llama). */
export function layerPrefix(c: ModelConfig): string {
  return architectureModule(c.architecture).layerPrefix;
}

/** transformers' *ForCausalLM class of the model (config.json architectures[0]). */
export function causalLmClass(c: ModelConfig): string {
  return architectureModule(c.architecture).causalLmClass(c.architecture);
}

/** transformers' *ForSequenceClassification class of the model: what a reward model is saved as. */
export function sequenceClassifierClass(c: ModelConfig): string {
  return architectureModule(c.architecture).sequenceClassifierClass(c.architecture);
}

/** The sequence classifier's score head tensor ([1, D], no bias). */
export function scoreHeadName(c: ModelConfig): string {
  return architectureModule(c.architecture).scoreHead;
}

/** The decoder stack of the model's architecture: final hidden states [B·T, D]. */
export function backbone(g: GraphBuilder, c: ModelConfig, w: Weights, ids: Value, positions: Value, attend: Attend, dtype: FloatType): Value {
  return architectureModule(c.architecture).backbone(g, c, w, ids, positions, attend, dtype);
}
