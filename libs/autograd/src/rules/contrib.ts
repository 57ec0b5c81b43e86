// onnxruntime contrib ops (com.microsoft): FusedMatMul, RotaryEmbedding, SimplifiedLayerNormalization and
// SkipSimplifiedLayerNormalization. Their backwards are written with FusedMatMul and standard ops, in the
// fewest full-size passes (the train step is memory-bound outside its GEMMs).
import { fusedMatmul, normAxis, type GraphBuilder, type Value } from '@juice/onnx';
import { registerGradient } from '../registry.js';

// Y = alpha · A' · B' with A' = op(A), B' = op(B): dA' = alpha dY B'ᵀ, dB' = alpha A'ᵀ dY, each one
// FusedMatMul whose transposes MLAS applies while packing (no Transpose node, no transposed copy).
registerGradient('FusedMatMul', (c) => {
  const { g } = c;
  if (c.int('transBatchA', 0) || c.int('transBatchB', 0)) throw new Error(`gradient of FusedMatMul ${c.node.name}: transBatchA/transBatchB are not supported`);
  const [a, b, dy] = [c.x(0), c.x(1), c.dy(0)!];
  const ta = c.int('transA', 0) === 1;
  const tb = c.int('transB', 0) === 1;
  const alpha = c.float('alpha', 1);
  const mm = (x: Value, y: Value, transA: boolean, transB: boolean) => fusedMatmul(g, x, y, { transA, transB, alpha });
  const da = !c.wants(0) ? undefined : ta ? mm(b, dy, tb, true) : mm(dy, b, false, !tb);
  const db = !c.wants(1) ? undefined : tb ? mm(dy, a, true, ta) : mm(a, dy, !ta, false);
  return [da, db];
});

// A rotation by angle θ per pair; its adjoint is the rotation by −θ: the same op with the sine negated.
registerGradient('RotaryEmbedding', (c) => {
  if (c.node.domain !== 'com.microsoft') throw new Error(`gradient of RotaryEmbedding ${c.node.name}: only the com.microsoft op is supported`);
  if (c.wants(2) || c.wants(3)) throw new Error(`gradient of RotaryEmbedding ${c.node.name}: the cos/sin caches must not depend on what is differentiated`);
  if (!c.wants(0)) return [];
  const { g } = c;
  for (const a of Object.keys(c.node.attrs)) if (!['interleaved', 'num_heads', 'rotary_embedding_dim'].includes(a)) throw new Error(`gradient of RotaryEmbedding ${c.node.name}: attribute ${a} is not supported`);
  const attrs = { interleaved: c.int('interleaved', 0), num_heads: c.int('num_heads', 0), rotary_embedding_dim: c.int('rotary_embedding_dim', 0) };
  const dx = g.op('RotaryEmbedding', [c.dy(0)!, c.x(1), c.x(2), g.neg(c.x(3))], attrs, { domain: 'com.microsoft' });
  return [dx];
});

/**
 * y = x·r·w with r = 1/sqrt(mean(x²) + eps) per row (saved by the forward as inv_std_var). With
 * gw = dy·w: dx = r·gw − x·(r³·mean(gw·x)), dw = Σ_rows dy·x·r.
 */
function rmsNormBackward(g: GraphBuilder, x: Value, w: Value, inv: Value, dy: Value, wantX: boolean, wantW: boolean): [Value | undefined, Value | undefined] {
  const axis = normAxis(-1, x.rank);
  const lead = Array.from({ length: axis }, (_, i) => i);
  const r = inv.dtype === x.dtype ? inv : g.cast(inv, x.dtype);
  const dw = wantW ? g.reduceSum(g.mul(dy, g.mul(x, r)), lead, false) : undefined;
  if (!wantX) return [undefined, dw];
  const gw = g.mul(dy, w);
  const t = g.reduceMean(g.mul(gw, x), [axis], true); // [..., 1]
  const coef = g.mul(t, g.mul(r, g.mul(r, r)));
  return [g.sub(g.mul(gw, r), g.mul(x, coef)), dw];
}

registerGradient('SimplifiedLayerNormalization', (c) => {
  const { g } = c;
  if (c.dy(1)) throw new Error(`gradient of SimplifiedLayerNormalization ${c.node.name}: inv_std_var must not reach the loss`);
  const x = c.x(0);
  if (normAxis(c.int('axis', -1), x.rank) !== x.rank - 1) throw new Error(`gradient of SimplifiedLayerNormalization ${c.node.name}: only the last axis is supported`);
  if (!c.dy(0)) return [];
  return rmsNormBackward(g, x, c.x(1), c.saved(1, 'rms_inv_std'), c.dy(0)!, c.wants(0), c.wants(1));
});

// Y = RMSNorm(x + skip)·w, and the sum itself (output 3) feeds the next residual add.
registerGradient('SkipSimplifiedLayerNormalization', (c) => {
  const { g } = c;
  if (c.hasInput(3)) throw new Error(`gradient of SkipSimplifiedLayerNormalization ${c.node.name}: the bias input is not supported`);
  if (c.dy(1) || c.dy(2)) throw new Error(`gradient of SkipSimplifiedLayerNormalization ${c.node.name}: mean/inv_std_var must not reach the loss`);
  const sum = c.saved(3, 'skip_sum');
  let ds: Value | undefined;
  let dw: Value | undefined;
  if (c.dy(0)) [ds, dw] = rmsNormBackward(g, sum, c.x(2), c.saved(2, 'rms_inv_std'), c.dy(0)!, c.wants(0) || c.wants(1), c.wants(2));
  const dsum = c.dy(3);
  const total = ds && dsum ? g.add(ds, dsum) : ds ?? dsum;
  return [c.wants(0) ? total : undefined, c.wants(1) ? total : undefined, dw];
});
