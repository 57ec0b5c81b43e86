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

registerGradient('Pow', (c) => {
  const { g } = c;
  const [a, b, dy] = [c.x(0), c.x(1), dyOf(c)];
  let da: Value | undefined;
  if (c.wants(0)) {
    const k = c.maybeConstInput(1);
    if (k && k.length === 1 && k[0] === 2) da = g.mul(dy, g.mul(a, 2));
    else if (k && k.length === 1 && k[0] === 1) da = dy;
    else {
      const bm1 = k && k.length === 1 ? c.scalar(a, k[0]! - 1) : g.cast(g.sub(b, g.scalar(1, b.dtype)), a.dtype);
      const coef = k && k.length === 1 ? c.scalar(a, k[0]!) : g.cast(b, a.dtype);
      da = g.mul(dy, g.mul(coef, g.pow(a, bm1)));
    }
  }
  const db = c.wants(1) ? g.mul(dy, g.mul(c.y(), g.log(a))) : undefined;
  return [da, db];
});

registerGradient('Sqrt', (c) => [c.g.div(c.g.mul(dyOf(c), 0.5), c.y())]);
registerGradient('Reciprocal', (c) => [c.g.neg(c.g.mul(dyOf(c), c.g.mul(c.y(), c.y())))]);
registerGradient('Exp', (c) => [c.g.mul(dyOf(c), c.y())]);
registerGradient('Log', (c) => [c.g.div(dyOf(c), c.x(0))]);
registerGradient('Tanh', (c) => [c.g.mul(dyOf(c), c.g.sub(1, c.g.mul(c.y(), c.y())))]);
registerGradient('Sigmoid', (c) => [c.g.mul(dyOf(c), c.g.mul(c.y(), c.g.sub(1, c.y())))]);
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

// Ties send the whole gradient to the first operand (as PyTorch's maximum does not; both are valid
// subgradients, and ties do not occur on continuous data).
for (const [op, cmp] of [['Max', 'GreaterOrEqual'], ['Min', 'LessOrEqual']] as const) {
  registerGradient(op, (c) => {
    if (c.node.inputs.length !== 2) throw new Error(`gradient of ${op} is implemented for 2 inputs, got ${c.node.inputs.length}`);
    const mask = c.g.op(cmp, [c.x(0), c.x(1)]);
    const dy = dyOf(c);
    return [c.wants(0) ? c.g.where(mask, dy, 0) : undefined, c.wants(1) ? c.g.where(mask, 0, dy) : undefined];
  });
}

registerGradient('Clip', (c) => {
  const { g } = c;
  const x = c.x(0);
  let mask: Value | undefined;
  if (c.hasInput(1)) mask = g.op('GreaterOrEqual', [x, c.x(1)]);
  if (c.hasInput(2)) {
    const le = g.op('LessOrEqual', [x, c.x(2)]);
    mask = mask ? g.and(mask, le) : le;
  }
  return [mask ? g.where(mask, dyOf(c), 0) : dyOf(c)];
});
