// The contracts between the graph entry points (causal LM, reward model, generation) and the
// architectures' backbones: a backbone reads weights by HF name and leaves attention to its caller.
import type { GraphBuilder, Value } from '@juice/onnx';
import type { ModelConfig } from '../model-config.js';

export type FloatType = 'float32' | 'float64';

/**
 * Attention over one layer's heads: q [B, H, T, d] (scaled, rotated), k and v [B, Hkv, T, d] (k rotated)
 * → context [B, H, T, d]. Training and prefill attend causally within the batch; decode also attends
 * to the KV cache. Layer index lets decode find its cache inputs.
 */
export type Attend = (layer: number, q: Value, k: Value, v: Value) => Value;

/** A weight input by its HF tensor name (a graph input, an initializer, or W + LoRA). */
export type Weights = (name: string) => Value;

/** Adds an architecture's decoder stack; returns the final hidden states [B·T, D] (after the last norm). */
export type Backbone = (g: GraphBuilder, c: ModelConfig, w: Weights, ids: Value, positions: Value, attend: Attend, dtype: FloatType) => Value;
