// Model configuration from (and back to) Hugging Face config.json, and the model's tensors by HF name.
// Architecture-neutral: the config.json keys, class names and tensor names of each architecture live in
// its module (architectures/llama-family.ts for Llama, Mistral and Qwen2; architectures/gpt-neox.ts for
// Pythia), found through the registry.
import { ModelLoadError } from './errors.js';
import { checkConfigKeys } from './config-keys.js';
import { architectureModule, HF_CLASS_ARCHITECTURES, MODEL_TYPES, scoreHeadName } from './architectures/registry.js';
import type { Architecture, ModelConfig, ParameterShape } from './model-config.js';

export { layerWindow, type Architecture, type ModelConfig } from './model-config.js';

type Json = Record<string, unknown>;

/** Reads a config.json object; `source` names the file in errors. */
export function configFromHf(json: Json, source = 'config.json'): ModelConfig {
  // Every key that would change the maths is implemented or refused here, naming it (config-keys.ts).
  checkConfigKeys(json, source);
  const archName = Array.isArray(json.architectures) ? String(json.architectures[0]) : '';
  // Own properties only: a class named like an Object.prototype member ("toString") is not a model class.
  const architecture = (Object.hasOwn(HF_CLASS_ARCHITECTURES, archName) ? HF_CLASS_ARCHITECTURES[archName] : undefined) ?? (MODEL_TYPES.includes(String(json.model_type) as Architecture) ? (json.model_type as Architecture) : undefined);
  if (!architecture) {
    throw new ModelLoadError('INVALID_ARGUMENT', `${source}: architecture ${JSON.stringify(archName || json.model_type)} is not supported (supported: ${Object.keys(HF_CLASS_ARCHITECTURES).join(', ')})`);
  }
  return architectureModule(architecture).configFromHf(json, architecture, source);
}

/** config.json of the model's causal LM class; `extra` keys are added last (and win). */
export function configToHf(c: ModelConfig, extra: Json = {}): Json {
  return architectureModule(c.architecture).configToHf(c, extra);
}

/** Every trainable tensor with its Hugging Face name and shape, in checkpoint order. */
export function parameterShapes(c: ModelConfig): ParameterShape[] {
  return architectureModule(c.architecture).parameterShapes(c);
}

/**
 * A reward model (HF *ForSequenceClassification with one label): the backbone without the LM head,
 * plus the score head [1, D] read at the last real token of each sequence.
 */
export function rewardParameterShapes(c: ModelConfig): ParameterShape[] {
  const { head, embed } = embeddingNames(c);
  return [...parameterShapes(c).filter((p) => p.name !== head || head === embed), { name: scoreHeadName(c), shape: [1, c.hiddenSize] }];
}

/** Names of the token embedding and output head of an architecture. */
export function embeddingNames(c: ModelConfig): { embed: string; head: string } {
  return architectureModule(c.architecture).embeddingNames(c);
}

export function parameterCount(c: ModelConfig, { embeddings = true } = {}): number {
  return parameterShapes(c)
    .filter((p) => embeddings || (p.name !== embeddingNames(c).embed && p.name !== embeddingNames(c).head))
    .reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
}
