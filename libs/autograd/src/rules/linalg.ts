// MatMul, Gemm and two-operand Einsum.
import { fusedMatmul, type GraphBuilder, type Value } from '@juice/onnx';
import { registerGradient } from '../registry.js';

/** Swaps the last two axes. */
function swapLast(g: GraphBuilder, v: Value): Value {
  const r = v.rank;
  return g.transpose(v, [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2]);
}

/** [..., K] -> [prod(...), K] with K kept symbolic-safe. */
function flattenLeading(g: GraphBuilder, v: Value): Value {
  const last = v.shape[v.rank - 1]!;
  return g.reshape(v, typeof last === 'number' ? [-1, last] : g.concat([g.ints([-1]), g.shape(v, -1)], 0));
}

registerGradient('MatMul', (c) => {
  const { g } = c;
  const [a, b, dy] = [c.x(0), c.x(1), c.dy(0)!];
  if (a.rank < 2 || b.rank < 2) throw new Error(`gradient of MatMul ${c.node.name}: 1-D operands are not supported (${a}, ${b})`);
  // float32: FusedMatMul reads the transposed operand in place (MLAS packs it transposed) instead of a
  // Transpose node writing a copy first; onnxruntime's kernel is float32 only.
  const fused = a.dtype === 'float32';
  const da = !c.wants(0) ? undefined : fused ? fusedMatmul(g, dy, b, { transB: true }) : g.matmul(dy, swapLast(g, b));
  let db: Value | undefined;
  if (c.wants(1)) {
    // A weight shared over batch dims: one [K, M*] x [M*, N] GEMM instead of a batched product + sum.
    if (b.rank === 2 && a.rank > 2) db = g.gemm(flattenLeading(g, a), flattenLeading(g, dy), undefined, { transA: 1 });
    else db = fused ? fusedMatmul(g, a, dy, { transA: true }) : g.matmul(swapLast(g, a), dy);
  }
  return [da, db];
});

registerGradient('Gemm', (c) => {
  const { g } = c;
  const [a, b, dy] = [c.x(0), c.x(1), c.dy(0)!];
  const ta = c.int('transA', 0);
  const tb = c.int('transB', 0);
  const alpha = c.float('alpha', 1);
  const beta = c.float('beta', 1);
  const gemm = (x: Value, y: Value, transA: number, transB: number) => g.gemm(x, y, undefined, { transA, transB, alpha });
  // Y = alpha A' B' (+ beta C) with A' = op(A), B' = op(B): dA' = alpha dY B'^T, dB' = alpha A'^T dY.
  const da = !c.wants(0) ? undefined : ta ? gemm(b, dy, tb, 1) : gemm(dy, b, 0, tb ? 0 : 1);
  const db = !c.wants(1) ? undefined : tb ? gemm(dy, a, 1, ta) : gemm(a, dy, ta ? 0 : 1, 0);
  const dc = c.hasInput(2) && c.wants(2) ? (beta === 1 ? dy : g.mul(dy, beta)) : undefined;
  return [da, db, dc];
});

registerGradient('Einsum', (c) => {
  const eq = c.str('equation', '').replace(/\s+/g, '');
  const [lhs, out] = eq.split('->');
  const terms = lhs!.split(',');
  if (out === undefined || terms.length !== 2 || eq.includes('.')) {
    throw new Error(`gradient of Einsum ${eq}: only two operands with an explicit output and no '...' are supported`);
  }
  const [ta, tb] = terms as [string, string];
  const grad = (own: string, other: string, i: number) => {
    if (!c.wants(i)) return undefined;
    if (new Set(own).size !== own.length || [...own].some((l) => !out.includes(l) && !other.includes(l))) {
      throw new Error(`gradient of Einsum ${eq}: operand ${own} has repeated or solely-summed letters`);
    }
    return c.g.einsum(`${out},${other}->${own}`, c.dy(0)!, c.x(1 - i));
  };
  return [grad(ta, tb, 0), grad(tb, ta, 1)];
});
