// What juice must know about an architecture, in one place per architecture (llama-family.ts,
// gpt-neox.ts): transformers' class names, config.json in and out, tensor names and shapes, and the
// decoder stack. Everything else in @juice/models (and the loops and services) asks the registry.
import type { StTensor } from '@juice/checkpoint';
import type { Backbone } from '../graph/types.js';
import type { Architecture, ModelConfig, ParameterShape } from '../model-config.js';

export type Json = Record<string, unknown>;

export interface ArchitectureModule {
  /** The model_type values (ModelConfig.architecture) this module builds. */
  readonly modelTypes: readonly Architecture[];
  /** transformers' causal LM class of a model_type (config.json architectures[0]). */
  causalLmClass(a: Architecture): string;
  /** transformers' sequence-classification class of a model_type: juice's reward model. */
  sequenceClassifierClass(a: Architecture): string;
  /** The score head of the sequence classifier, [1, D] (no bias), read at the last real token. */
  readonly scoreHead: string;

  /** config.json (already checked by checkConfigKeys) → ModelConfig; `source` names the file in errors. */
  configFromHf(json: Json, architecture: Architecture, source: string): ModelConfig;
  /** ModelConfig → config.json of the causal LM class; `extra` keys are added last (and win). */
  configToHf(c: ModelConfig, extra: Json): Json;

  /** Every trainable tensor of the causal LM with its HF name and shape, in checkpoint order. */
  parameterShapes(c: ModelConfig): ParameterShape[];
  /** Names of the token embedding and the LM head (the same tensor when tied). */
  embeddingNames(c: ModelConfig): { embed: string; head: string };
  /** Per-layer tensors are named `${layerPrefix}${i}.…`; nothing else starts with it. */
  readonly layerPrefix: string;
  /** PEFT target_modules when a LoRA spec names none: the attention projections. */
  defaultLoraTargets(c: ModelConfig): string[];

  /** The decoder stack as an ONNX graph. */
  readonly backbone: Backbone;

  /** The RoPE inv_freq buffers older transformers versions saved under this architecture's names. */
  readonly invFreqBuffer: RegExp;
  /** How many dimensions of each head RoPE rotates (what a saved inv_freq must cover). */
  rotaryDims(c: ModelConfig): number;
  /** Other saved buffers juice recomputes: '' when it agrees, a message when not, undefined when `name` is none. */
  derivedBuffer?(name: string, t: StTensor): string | undefined;
}
