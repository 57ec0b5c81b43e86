// Builders for the onnxruntime contrib ops (domain com.microsoft) juice uses to cut the node count of
// training graphs. Their CPU kernels are float32 only: callers keep a standard-op path for float64.
import type { GraphBuilder, Operand, Value } from './builder.js';

export const MS_DOMAIN = 'com.microsoft';

/** alpha · op(A) · op(B), op = transpose of the last two axes when asked; MLAS packs the transposed operand itself. */
export function fusedMatmul(g: GraphBuilder, a: Operand, b: Operand, o: { transA?: boolean; transB?: boolean; alpha?: number } = {}): Value {
  return g.op('FusedMatMul', [a, b], { alpha: o.alpha ?? 1, transA: o.transA ? 1 : 0, transB: o.transB ? 1 : 0 }, { domain: MS_DOMAIN });
}

/**
 * Rotary embedding (rotate_half convention) of x [B, S, H·d]: cos/sin caches [R, d/2] are read at row
 * position_ids [B, S].
 */
export function rotaryEmbedding(g: GraphBuilder, x: Operand, positionIds: Operand, cos: Operand, sin: Operand, numHeads: number): Value {
  return g.op('RotaryEmbedding', [x, positionIds, cos, sin], { interleaved: 0, num_heads: numHeads }, { domain: MS_DOMAIN });
}

/** RMSNorm over the last axis: [y, invStd] (invStd float32 [..., 1], for the backward). */
export function simplifiedLayerNorm(g: GraphBuilder, x: Operand, scale: Operand, epsilon: number): [Value, Value] {
  const [y, inv] = g.op('SimplifiedLayerNormalization', [x, scale], { axis: -1, epsilon, stash_type: 1 }, { outputs: 2, name: 'rms_norm' });
  return [y!, inv!];
}

/** RMSNorm of x + skip: [y, invStd, sum] (sum = x + skip, the residual stream). */
export function skipSimplifiedLayerNorm(g: GraphBuilder, x: Operand, skip: Operand, scale: Operand, epsilon: number): [Value, Value, Value] {
  // Output 1 (mean) is meaningless for RMSNorm and unused.
  const outs = g.op('SkipSimplifiedLayerNormalization', [x, skip, scale], { epsilon }, { outputs: 4, domain: MS_DOMAIN, name: 'skip_rms_norm' });
  return [outs[0]!, outs[2]!, outs[3]!];
}
