// The transformer pieces the model graphs share, as small functions over a GraphBuilder. Activations
// stay 2-D ([N, D] with N = B·T) wherever possible, so every projection is one Gemm against a 2-D
// weight and the backward needs no batch reductions; only attention works on [B, H, T, d].
import { rotaryEmbedding, simplifiedLayerNorm, skipSimplifiedLayerNorm, type GraphBuilder, type Value } from '@juice/onnx';
import { ropeCosSin, type RopeScaling } from './rope.js';

/** y = x · Wᵀ (+ b): HF Linear weights are [out, in]. */
export function linear(g: GraphBuilder, x: Value, w: Value, b?: Value): Value {
  return g.gemm(x, w, b, { transB: 1 });
}

/**
 * RMSNorm (Llama): x / sqrt(mean(x²) + eps) · w, over the last axis. In float32 one fused
 * SimplifiedLayerNormalization node (its backward is one rule with a few full-size passes instead of
 * the ~10 of the op-by-op chain); onnxruntime's kernel is float32 only, so float64 keeps the chain.
 */
export function rmsNorm(g: GraphBuilder, x: Value, w: Value, eps: number): Value {
  if (x.dtype === 'float32') return simplifiedLayerNorm(g, x, w, eps)[0];
  const ms = g.reduceMean(g.mul(x, x), [-1], true);
  // The reciprocal is taken on the [N, 1] statistic, so the full-size work (and its gradient) is Muls.
  const inv = g.reciprocal(g.sqrt(g.add(ms, g.scalar(eps, x.dtype))));
  return g.mul(g.mul(x, inv), w);
}

/**
 * The residual add x + branch followed by RMSNorm: { h: RMSNorm(x + branch)·w, x: x + branch }. In float32
 * one SkipSimplifiedLayerNormalization node (no separate Add pass over the residual stream).
 */
export function residualRmsNorm(g: GraphBuilder, x: Value, branch: Value, w: Value, eps: number): { h: Value; x: Value } {
  if (x.dtype === 'float32') {
    const [h, , sum] = skipSimplifiedLayerNorm(g, x, branch, w, eps);
    return { h, x: sum };
  }
  const sum = g.add(x, branch);
  return { h: rmsNorm(g, sum, w, eps), x: sum };
}

/** SwiGLU MLP: down(silu(gate(x)) · up(x)), with optional biases on the three projections (Llama mlp_bias). */
export function swiGlu(g: GraphBuilder, x: Value, gate: Value, up: Value, down: Value, bias?: { gate: Value; up: Value; down: Value }): Value {
  const a = linear(g, x, gate, bias?.gate);
  return linear(g, g.mul(g.mul(a, g.sigmoid(a)), linear(g, x, up, bias?.up)), down, bias?.down);
}

/**
 * cos and sin of rotary position embeddings, [B, 1, T, d] (HF convention: frequencies repeated over
 * both halves of the head dimension), from per-token positions [B, T] (int64). `rope` carries the
 * model's rope_scaling (see rope.ts) and max_position_embeddings, which dynamic and yarn scale from.
 */
export function rotaryTables(
  g: GraphBuilder,
  positions: Value,
  headDim: number,
  theta: number,
  dtype: 'float32' | 'float64',
  rope?: { ropeScaling?: RopeScaling; maxPositions: number },
): { cos: Value; sin: Value } {
  return ropeCosSin(g, positions, headDim, theta, dtype, rope);
}

/**
 * q·cos + rotate_half(q)·sin with rotate_half(x) = [−x₂, x₁] (halves of the last axis). The rotation
 * is a MatMul with a constant signed permutation: one small GEMM forward and backward instead of the
 * Split/Neg/Concat chain and its scatter-shaped gradient (measurably faster in the train step).
 */
export function applyRotary(g: GraphBuilder, x: Value, cos: Value, sin: Value, headDim: number): Value {
  const h = headDim / 2;
  const r = new Array<number>(headDim * headDim).fill(0);
  for (let j = 0; j < h; j++) {
    r[(j + h) * headDim + j] = -1;
    r[j * headDim + j + h] = 1;
  }
  const dtype = x.dtype as 'float32' | 'float64';
  const rot = g.constant({ dtype, dims: [headDim, headDim], data: encode(dtype, r) }, 'rope_rotate_half');
  return g.add(g.mul(x, cos), g.mul(g.matmul(x, rot), sin));
}

/**
 * Rotary embedding of per-token rows: `rotate(x, n)` takes x [B·T, n·d] (a projection's output) and
 * returns the rotated heads [B, n, T, d]. In float32 one RotaryEmbedding node (onnxruntime contrib)
 * on [B, T, n·d] before the head transpose, reading the tables as one cache row per token (so every
 * rope_scaling kind works unchanged); its backward is the same op with the sine negated. float64 keeps
 * applyRotary (the contrib kernel is float32 only).
 */
export function rotaryRows(g: GraphBuilder, cos: Value, sin: Value, bt: Value, headDim: number): (x: Value, n: number) => Value {
  const heads = (v: Value, n: number) => g.transpose(g.reshape(v, g.concat([bt, g.ints([n, headDim])], 0)), [0, 2, 1, 3]);
  if (cos.dtype !== 'float32') return (x, n) => applyRotary(g, heads(x, n), cos, sin, headDim);
  // [B, 1, T, d] with both halves equal (HF's cat(freqs, freqs)) → [B·T, d/2].
  const half = (t: Value) => g.reshape(g.slice(t, [0], [headDim / 2], [3]), [-1, headDim / 2]);
  const cosCache = half(cos);
  const sinCache = half(sin);
  const one = g.constant({ dtype: 'int64', dims: [], data: encode('int64', [1]) }, 'one_i64');
  const zero = g.constant({ dtype: 'int64', dims: [], data: encode('int64', [0]) }, 'zero_i64');
  let rows: Value | undefined; // row i of the cache for token i, [B, T]
  const flat = g.concat([bt, g.ints([-1])], 0);
  return (x, n) => {
    rows ??= g.reshape(g.range(zero, g.reshape(g.shape(x, 0, 1), []), one), bt);
    return heads(rotaryEmbedding(g, g.reshape(x, flat), rows, cosCache, sinCache, n), n);
  };
}

/** Positions from the attention mask (cumsum − 1, 0 on padding): right and left padding both work. */
export function positionsFromMask(g: GraphBuilder, mask: Value): Value {
  const pos = g.sub(g.cumsum(mask, 1), g.constant({ dtype: 'int64', dims: [], data: encode('int64', [1]) }, 'one_i64'));
  return g.max(pos, g.constant({ dtype: 'int64', dims: [], data: encode('int64', [0]) }, 'zero_i64'));
}

/**
 * Additive attention bias [B, 1, T, T]: 0 where query i may see key j (j ≤ i and key j is not
 * padding), a large negative number elsewhere. Finite, so fully padded query rows stay NaN-free.
 * With a sliding `window` w, also j > i − w (transformers' sliding_window_overlay on sequence indices,
 * which for a contiguous run of real tokens is the same as on their positions).
 */
export function causalPaddingBias(g: GraphBuilder, mask: Value, dtype: 'float32' | 'float64', window?: number): Value {
  const t = g.shape(mask, 1, 2);
  const square = g.concat([t, t], 0);
  const ones = g.constantOfShape(square, 1, 'int64');
  // Trilu keeps j − i ≤ 0 (lower) or, as the window's lower edge, j − i ≥ 1 − w (upper with k = 1 − w).
  const band = window === undefined ? g.trilu(ones, false) : g.trilu(g.trilu(ones, false), true, 1 - window);
  const causal = g.cast(band, 'bool');
  const keys = g.cast(g.unsqueeze(mask, [1, 2]), 'bool');
  const allowed = g.and(g.unsqueeze(causal, [0, 1]), keys);
  return g.where(allowed, g.scalar(0, dtype), g.scalar(-1e9, dtype));
}

function encode(dtype: 'float32' | 'float64' | 'int64', values: number[]): Uint8Array {
  const arr = dtype === 'float32' ? Float32Array.from(values) : dtype === 'float64' ? Float64Array.from(values) : BigInt64Array.from(values.map(BigInt));
  return new Uint8Array(arr.buffer);
}

/** Rows of the flattened hidden states [B·T, D] at each sequence's last real token (right padding). */
export function lastTokenRows(g: GraphBuilder, hidden: Value, mask: Value): Value {
  const T = g.shape(mask, 1, 2);
  const B = g.shape(mask, 0, 1);
  const lengths = g.reduceSum(mask, [1], false);
  const one = g.constant({ dtype: 'int64', dims: [], data: encode('int64', [1]) }, 'one_i64');
  const zero = g.constant({ dtype: 'int64', dims: [], data: encode('int64', [0]) }, 'zero_i64');
  const rowStart = g.mul(g.range(zero, g.reshape(B, []), one), g.reshape(T, []));
  return g.gather(hidden, g.add(rowStart, g.sub(lengths, one)));
}
