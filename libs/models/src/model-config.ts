// The model record every graph, loader and loop works from, whatever the architecture. What each field
// means for a given architecture, and how it is read from config.json, is the architecture module's
// business (architectures/*.ts); this module only names the fields, so everything can import it.
import type { RopeScaling } from './rope.js';

/** transformers' model_type of a supported model. */
export type Architecture = 'llama' | 'mistral' | 'qwen2' | 'gpt_neox';

export interface ModelConfig {
  architecture: Architecture;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  maxPositions: number;
  /** config.json rope_scaling (linear, dynamic, llama3, yarn; see rope.ts); absent for plain RoPE. */
  ropeScaling?: RopeScaling;
  tieWordEmbeddings: boolean;
  /** Biases on the q/k/v projections (Qwen2; Llama attention_bias). GPT-NeoX: attention_bias, on query_key_value and dense. */
  qkvBias: boolean;
  /** Bias on o_proj (Llama attention_bias: transformers puts it on q, k, v and o). */
  oProjBias?: boolean;
  /** Biases on gate/up/down_proj (Llama mlp_bias). */
  mlpBias?: boolean;
  /**
   * Sliding-window attention per layer (Mistral sliding_window; Qwen2 use_sliding_window, max_window_layers,
   * layer_types): a window w lets query i see key j iff i − w < j ≤ i; null (or no array) is full causal attention.
   */
  slidingWindows?: (number | null)[];
  bosTokenId?: number;
  eosTokenId?: number | number[];
  padTokenId?: number;
  /** GPT-NeoX: head dimensions that get rotary embeddings (rotary_pct · head_dim). */
  rotaryDims?: number;
  /** GPT-NeoX: x + attn(ln1 x) + mlp(ln2 x) instead of sequential residuals. */
  parallelResidual?: boolean;
  /** GPT-NeoX: LayerNorm epsilon. */
  layerNormEps?: number;
}

/** A tensor by its Hugging Face name. */
export interface ParameterShape {
  name: string;
  shape: number[];
}

/** The sliding window of layer i, or undefined for full causal attention. */
export function layerWindow(c: ModelConfig, layer: number): number | undefined {
  return c.slidingWindows?.[layer] ?? undefined;
}
