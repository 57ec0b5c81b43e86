// Attention shared by every architecture: grouped-query attention over an additive bias, and the
// per-layer training/prefill biases (causal + padding, and sliding windows).
import { fusedMatmul, type GraphBuilder, type Value } from '@juice/onnx';
import { causalPaddingBias } from '../layers.js';
import { layerWindow, type ModelConfig } from '../model-config.js';
import type { FloatType } from './types.js';

/**
 * Grouped-query attention without repeating K/V: the H/Hkv query heads that share a KV head are stacked
 * along time ([B, Hkv, rep·Tq, d]), so it is one batched MatMul per KV head. `bias` broadcasts to
 * [B, H, Tq, Tk].
 */
export function groupedAttention(g: GraphBuilder, c: ModelConfig, q: Value, k: Value, v: Value, bias: Value): Value {
  const B = g.shape(q, 0, 1);
  const Tq = g.shape(q, 2, 3);
  const Tk = g.shape(k, 2, 3);
  const dims = (...parts: Value[]) => g.concat(parts, 0);
  const qg = g.reshape(q, dims(B, g.ints([c.numKvHeads, -1, c.headDim])));
  // float32: Kᵀ is read transposed by the GEMM itself (no [B, Hkv, d, Tk] copy forward or backward).
  const qk = q.dtype === 'float32' ? fusedMatmul(g, qg, k, { transB: true }) : g.matmul(qg, g.transpose(k, [0, 1, 3, 2]));
  const scores = g.reshape(qk, dims(B, g.ints([c.numHeads]), Tq, Tk));
  const probs = g.softmax(g.add(scores, bias), -1);
  const ctx = g.matmul(g.reshape(probs, dims(B, g.ints([c.numKvHeads, -1]), Tk)), v); // [B, Hkv, rep·Tq, d]
  return g.reshape(ctx, dims(B, g.ints([c.numHeads]), Tq, g.ints([c.headDim])));
}

/**
 * Training/prefill attention bias per layer: full causal + padding, or the layer's sliding window on top
 * (one bias per distinct window, shared by the layers that use it).
 */
export function layerBiases(g: GraphBuilder, c: ModelConfig, mask: Value, dtype: FloatType): (layer: number) => Value {
  const byWindow = new Map<number | undefined, Value>();
  return (layer) => {
    const w = layerWindow(c, layer);
    if (!byWindow.has(w)) byWindow.set(w, causalPaddingBias(g, mask, dtype, w));
    return byWindow.get(w)!;
  };
}
