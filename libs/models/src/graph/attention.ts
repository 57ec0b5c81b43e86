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

/**
 * One decode step's attention over the cache without concatenating it: the new token's scores against
 * the cached keys [B, Hkv, P, d] and against its own key [B, Hkv, 1, d] are combined in one softmax
 * written out (max, exp, sums), so no step copies the whole cache into a [P+1] tensor (at batch 16 that
 * copy was the biggest memory traffic of a step after the weights). q [B, H, 1, d] is already scaled;
 * `pastBias` [B, 1, 1, P] is 0 or −1e9 per cached slot (the token always sees itself).
 */
export function cachedAttention(g: GraphBuilder, c: ModelConfig, q: Value, pastK: Value, pastV: Value, k: Value, v: Value, pastBias: Value): Value {
  const B = g.shape(q, 0, 1);
  const qg = g.reshape(q, g.concat([B, g.ints([c.numKvHeads, -1, c.headDim])], 0)); // [B, Hkv, rep, d]
  const scoresT = (keys: Value) => (q.dtype === 'float32' ? fusedMatmul(g, qg, keys, { transB: true }) : g.matmul(qg, g.transpose(keys, [0, 1, 3, 2])));
  const past = g.add(scoresT(pastK), pastBias); // [B, Hkv, rep, P]
  const self = scoresT(k); // [B, Hkv, rep, 1]
  const m = g.max(g.reduceMax(past, [-1], true), self);
  const ePast = g.exp(g.sub(past, m));
  const eSelf = g.exp(g.sub(self, m));
  const den = g.add(g.reduceSum(ePast, [-1], true), eSelf);
  const ctx = g.div(g.add(g.matmul(ePast, pastV), g.mul(eSelf, v)), den); // [B, Hkv, rep, d]
  return g.reshape(ctx, g.concat([B, g.ints([c.numHeads, 1, c.headDim])], 0));
}
