// Elementwise ops. Gradients come back in the broadcast shape; grad() sums them to the input shapes.
import type { Value } from '@juice/onnx';
import type { GradContext } from '../context.js';
import { registerGradient } from '../registry.js';

const dyOf = (c: GradContext) => c.dy(0)!;

registerGradient(['Add', 'Identity', 'Expand'], (c) => c.node.inputs.map((_, i) => (i === 0 || c.node.opType === 'Add' ? dyOf(c) : undefined)));

registerGradient('Sub', (c) => [dyOf(c), c.wants(1) ? c.g.neg(dyOf(c)) : undefined]);

registerGradient('Mul', (c) => c.node.inputs[0] === c.node.inputs[1] ? [c.g.mul(c.g.mul(dyOf(c), c.x(0)), 2)] : [
  c.wants(0) ? c.g.mul(dyOf(c), c.x(1)) : undefined,
  c.wants(1) ? c.g.mul(dyOf(c), c.x(0)) : undefined,
]);

// d(a/b)/db = -a/b^2 = -y/b: reuses the saved output.
registerGradient('Div', (c) => [
  c.wants(0) ? c.g.div(dyOf(c), c.x(1)) : undefined,
  c.wants(1) ? c.g.neg(c.g.div(c.g.mul(dyOf(c), c.y()), c.x(1))) : undefined,
]);

registerGradient('Neg', (c) => [c.g.neg(dyOf(c))]);

// At a zero base torch's pow rules define what the formulas leave as 0·∞: an exponent of 0 has
// d/da = 0 (not 0·a^−1), and d/db = 0 where a = 0 and b >= 0 (not a^b·log 0).
registerGradient('Pow', (c) => {
  const { g } = c;
  const [a, b, dy] = [c.x(0), c.x(1), dyOf(c)];
  let da: Value | undefined;
  if (c.wants(0)) {
    const k = c.maybeConstInput(1);
    if (k && k.length === 1 && k[0] === 2) da = g.mul(dy, g.mul(a, 2));
    else if (k && k.length === 1 && k[0] === 1) da = dy;
    else if (k && k.length === 1 && k[0] === 0) da = c.zerosLike(a);
    else {
      const bm1 = k && k.length === 1 ? c.scalar(a, k[0]! - 1) : g.cast(g.sub(b, g.scalar(1, b.dtype)), a.dtype);
      const coef = k && k.length === 1 ? c.scalar(a, k[0]!) : g.cast(b, a.dtype);
      da = g.mul(dy, g.mul(coef, g.pow(a, bm1)));
      if (!(k && k.length === 1)) da = g.where(g.equal(b, g.scalar(0, b.dtype)), g.scalar(0, a.dtype), da);
    }
  }
  let db: Value | undefined;
  if (c.wants(1)) {
    const zeroBase = g.and(g.equal(a, g.scalar(0, a.dtype)), g.op('GreaterOrEqual', [b, g.scalar(0, b.dtype)]));
    db = g.mul(dy, g.where(zeroBase, g.scalar(0, b.dtype), g.mul(c.y(), g.log(a))));
  }
  return [da, db];
});

// dY/(2y): +∞ at x = 0 (NaN when dY is 0 there), exactly torch's sqrt rule.
registerGradient('Sqrt', (c) => [c.g.div(c.g.mul(dyOf(c), 0.5), c.y())]);
registerGradient('Reciprocal', (c) => [c.g.neg(c.g.mul(dyOf(c), c.g.mul(c.y(), c.y())))]);
registerGradient('Exp', (c) => [c.g.mul(dyOf(c), c.y())]);
registerGradient('Log', (c) => [c.g.div(dyOf(c), c.x(0))]);
registerGradient('Tanh', (c) => [c.g.mul(dyOf(c), c.g.sub(1, c.g.mul(c.y(), c.y())))]);
registerGradient('Sigmoid', (c) => [c.g.mul(dyOf(c), c.g.mul(c.y(), c.g.sub(1, c.y())))]);
// At 0 both give 0, as torch: relu passes dY only where x > 0, abs multiplies by sign(0) = 0.
registerGradient('Relu', (c) => [c.g.where(c.g.greater(c.x(0), 0), dyOf(c), 0)]);
registerGradient('Abs', (c) => [c.g.mul(dyOf(c), c.g.op('Sign', [c.x(0)]))]);

registerGradient('Erf', (c) => {
  const x = c.x(0);
  return [c.g.mul(dyOf(c), c.g.mul(c.g.exp(c.g.neg(c.g.mul(x, x))), 2 / Math.sqrt(Math.PI)))];
});

registerGradient('Gelu', (c) => {
  const { g } = c;
  const x = c.x(0);
  if (c.str('approximate', 'none') === 'tanh') {
    // y = x/2 (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3)
    const s = Math.sqrt(2 / Math.PI);
    const x2 = g.mul(x, x);
    const t = g.tanh(g.mul(g.mul(x, g.add(g.mul(x2, 0.044715), 1)), s));
    const du = g.mul(g.add(g.mul(x2, 3 * 0.044715), 1), s);
    const d = g.add(g.mul(g.add(t, 1), 0.5), g.mul(g.mul(g.mul(x, 0.5), g.sub(1, g.mul(t, t))), du));
    return [g.mul(dyOf(c), d)];
  }
  // d/dx x Phi(x) = Phi(x) + x phi(x)
  const cdf = g.mul(g.add(g.erf(g.mul(x, Math.SQRT1_2)), 1), 0.5);
  const pdf = g.mul(g.exp(g.mul(g.mul(x, x), -0.5)), 1 / Math.sqrt(2 * Math.PI));
  return [g.mul(dyOf(c), g.add(cdf, g.mul(x, pdf)))];
});

registerGradient('Cast', (c) => [c.g.cast(dyOf(c), c.x(0).dtype)]);

registerGradient('Where', (c) => {
  const cond = c.x(0);
  const dy = dyOf(c);
  return [undefined, c.wants(1) ? c.g.where(cond, dy, 0) : undefined, c.wants(2) ? c.g.where(cond, 0, dy) : undefined];
});

// Ties split the gradient evenly among the tied inputs: torch.maximum/minimum give ½ to each of two
// (where(a == b, dy/2, dy) on the larger side), and the variadic ONNX Max/Min give 1/n to each of n tied
// inputs, as torch.amax does over tied elements. Ties are not rare: log σ(u) at u = 0 (π = π_ref) and
// max(count, 1) meet them on the first step of every pairwise job.
for (const op of ['Max', 'Min'] as const) {
  registerGradient(op, (c) => {
    const { g } = c;
    const dy = dyOf(c);
    if (c.node.inputs.length === 1) return [dy];
    const y = c.y();
    // Each input is exactly the output where it attains the extreme (Max/Min copy, they do not round).
    const hits = c.node.inputs.map((_, i) => g.cast(g.equal(c.x(i), y), y.dtype));
    const share = g.div(dy, hits.reduce((sum, h) => g.add(sum, h)));
    return hits.map((h, i) => (c.wants(i) ? g.mul(share, h) : undefined));
  });
}

// torch.clamp's rule, bounds included: x gets dY where min <= x <= max (so a value sitting on a bound
// passes its gradient); a tensor bound gets dY where it is the output: min where x < min (and min < max),
// max where x > max or max < min (Clip then outputs max everywhere).
registerGradient('Clip', (c) => {
  const { g } = c;
  const x = c.x(0);
  const dy = dyOf(c);
  const lo = c.hasInput(1) ? c.x(1) : undefined;
  const hi = c.hasInput(2) ? c.x(2) : undefined;
  let dx: Value | undefined;
  if (c.wants(0)) {
    let pass: Value | undefined;
    if (lo) pass = g.op('GreaterOrEqual', [x, lo]);
    if (hi) {
      const le = g.op('LessOrEqual', [x, hi]);
      pass = pass ? g.and(pass, le) : le;
    }
    dx = pass ? g.where(pass, dy, 0) : dy;
  }
  let dlo: Value | undefined;
  if (lo && c.wants(1)) dlo = g.where(hi ? g.and(g.less(x, lo), g.less(lo, hi)) : g.less(x, lo), dy, 0);
  let dhi: Value | undefined;
  if (hi && c.wants(2)) dhi = g.where(lo ? g.op('Or', [g.greater(x, hi), g.less(hi, lo)]) : g.greater(x, hi), dy, 0);
  return [dx, dlo, dhi];
});
