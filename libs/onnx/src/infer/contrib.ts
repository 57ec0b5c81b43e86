// onnxruntime's contrib ops that juice emits (com.microsoft domain, CPU kernels for float32):
// FusedMatMul, RotaryEmbedding, SimplifiedLayerNormalization, SkipSimplifiedLayerNormalization.
import { attrInt } from '../attributes.js';
import { broadcastShapes, formatShape, normAxis, type Dim } from '../shape.js';
import { need, registerInference } from './registry.js';

// MatMul with optional transposes of the last two axes of A and B and a scale: alpha · op(A) · op(B).
registerInference('FusedMatMul', (ctx) => {
  const a = need(ctx, 0);
  const b = need(ctx, 1);
  if (a.dtype !== b.dtype) throw new Error(`FusedMatMul: dtypes differ: ${a.dtype} and ${b.dtype}`);
  if (a.shape.length < 2 || b.shape.length < 2) throw new Error(`FusedMatMul: operands must be at least 2-D, got ${formatShape(a.shape)} and ${formatShape(b.shape)}`);
  if (attrInt(ctx.attrs, 'transBatchA', 0) || attrInt(ctx.attrs, 'transBatchB', 0)) throw new Error('FusedMatMul: transBatchA/transBatchB are not supported');
  const last2 = (s: readonly Dim[], t: number): [Dim, Dim] => (t ? [s[s.length - 1]!, s[s.length - 2]!] : [s[s.length - 2]!, s[s.length - 1]!]);
  const [m, k1] = last2(a.shape, attrInt(ctx.attrs, 'transA', 0));
  const [k2, n] = last2(b.shape, attrInt(ctx.attrs, 'transB', 0));
  if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) throw new Error(`FusedMatMul: inner dims differ: ${formatShape(a.shape)} x ${formatShape(b.shape)}`);
  const batch = broadcastShapes([a.shape.slice(0, -2), b.shape.slice(0, -2)], ctx.fresh, 'FusedMatMul batch dims');
  return [{ dtype: a.dtype, shape: [...batch, m, n] }];
});

// input [B, S, H·d] (or [B, H, S, d]), position_ids, cos/sin caches → the input's shape.
registerInference('RotaryEmbedding', (ctx) => [need(ctx, 0)]);

// RMSNorm: Y like X; the optional inv_std_var output is float32 with the normalised axes kept as 1.
registerInference('SimplifiedLayerNormalization', (ctx) => {
  const x = need(ctx, 0);
  const axis = normAxis(attrInt(ctx.attrs, 'axis', -1), x.shape.length, 'SimplifiedLayerNormalization axis');
  const stats = x.shape.map((d, i) => (i < axis ? d : 1));
  return [x, { dtype: 'float32' as const, shape: stats }].slice(0, Math.max(1, ctx.numOutputs));
});

// Outputs: Y, mean (unused by RMSNorm), inv_std_var [..., 1], and input + skip (+ bias), the residual stream.
registerInference('SkipSimplifiedLayerNormalization', (ctx) => {
  const x = need(ctx, 0);
  const stats = x.shape.map((d, i) => (i < x.shape.length - 1 ? d : 1));
  return [x, { dtype: 'float32' as const, shape: stats }, { dtype: 'float32' as const, shape: stats }, x].slice(0, Math.max(1, ctx.numOutputs));
});
