// MatMul (numpy matmul semantics), Gemm, Einsum.
import { attrInt, attrString } from '../attributes.js';
import { broadcastShapes, formatShape, type Dim } from '../shape.js';
import { need, registerInference, type InferContext } from './registry.js';

function checkInner(ctx: InferContext, k1: Dim, k2: Dim, a: readonly Dim[], b: readonly Dim[]) {
  if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) {
    throw new Error(`${ctx.opType}: inner dims differ: ${formatShape(a)} x ${formatShape(b)}`);
  }
}

registerInference('MatMul', (ctx) => {
  const a = need(ctx, 0);
  const b = need(ctx, 1);
  if (a.dtype !== b.dtype) throw new Error(`MatMul: dtypes differ: ${a.dtype} and ${b.dtype}`);
  if (a.shape.length === 0 || b.shape.length === 0) throw new Error('MatMul: scalars are not allowed');
  const sa = a.shape.length === 1 ? [1, a.shape[0]!] : [...a.shape];
  const sb = b.shape.length === 1 ? [b.shape[0]!, 1] : [...b.shape];
  checkInner(ctx, sa[sa.length - 1]!, sb[sb.length - 2]!, a.shape, b.shape);
  const batch = broadcastShapes([sa.slice(0, -2), sb.slice(0, -2)], ctx.fresh, 'MatMul batch dims');
  const out: Dim[] = [...batch];
  if (a.shape.length > 1) out.push(sa[sa.length - 2]!);
  if (b.shape.length > 1) out.push(sb[sb.length - 1]!);
  return [{ dtype: a.dtype, shape: out }];
});

registerInference('Gemm', (ctx) => {
  const a = need(ctx, 0);
  const b = need(ctx, 1);
  if (a.shape.length !== 2 || b.shape.length !== 2) {
    throw new Error(`Gemm: A and B must be 2-D, got ${formatShape(a.shape)} and ${formatShape(b.shape)}`);
  }
  const ta = attrInt(ctx.attrs, 'transA', 0);
  const tb = attrInt(ctx.attrs, 'transB', 0);
  const [m, k1] = ta ? [a.shape[1]!, a.shape[0]!] : [a.shape[0]!, a.shape[1]!];
  const [k2, n] = tb ? [b.shape[1]!, b.shape[0]!] : [b.shape[0]!, b.shape[1]!];
  checkInner(ctx, k1, k2, a.shape, b.shape);
  return [{ dtype: a.dtype, shape: [m, n] }];
});

/** Einsum with explicit or implicit output and at most one '...' per term. */
registerInference('Einsum', (ctx) => {
  const eq = attrString(ctx.attrs, 'equation', '').replace(/\s+/g, '');
  const [lhs, rhsGiven] = eq.split('->') as [string, string | undefined];
  const terms = lhs.split(',');
  if (terms.length !== ctx.inputs.length) throw new Error(`Einsum: equation ${eq} has ${terms.length} operands, got ${ctx.inputs.length}`);
  const letter = new Map<string, Dim>();
  const ellipses: Dim[][] = [];
  const counts = new Map<string, number>();
  terms.forEach((term, i) => {
    const shape = need(ctx, i).shape;
    const [pre, post] = term.includes('...') ? term.split('...') as [string, string] : [term, undefined];
    const nEll = post === undefined ? 0 : shape.length - pre.length - post.length;
    if (nEll < 0) throw new Error(`Einsum: term ${term} does not fit shape ${formatShape(shape)}`);
    const letters = [...pre, ...(post === undefined ? [] : Array(nEll).fill('.')), ...(post ?? '')];
    if (post !== undefined) ellipses.push(shape.slice(pre.length, pre.length + nEll));
    if (letters.length !== shape.length) throw new Error(`Einsum: term ${term} does not fit shape ${formatShape(shape)}`);
    letters.forEach((l, j) => {
      if (l === '.') return;
      counts.set(l, (counts.get(l) ?? 0) + 1);
      const prev = letter.get(l);
      const d = shape[j]!;
      if (prev === undefined || prev === 1) letter.set(l, d);
    });
  });
  const ell = broadcastShapes(ellipses, ctx.fresh, 'Einsum ...');
  const rhs = rhsGiven ?? ((ellipses.length ? '...' : '') + [...counts].filter(([, c]) => c === 1).map(([l]) => l).sort().join(''));
  const out: Dim[] = [];
  const [pre, post] = rhs.includes('...') ? rhs.split('...') as [string, string] : [rhs, undefined];
  for (const l of pre) out.push(letter.get(l)!);
  if (post !== undefined) { out.push(...ell); for (const l of post) out.push(letter.get(l)!); }
  return [{ dtype: need(ctx, 0).dtype, shape: out }];
});
