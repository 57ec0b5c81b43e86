// Reductions, softmax family, layer norm and the cross-entropy loss.
import { normAxis, type Value } from '@juice/onnx';
import type { GradContext } from '../context.js';
import { registerGradient } from '../registry.js';

/** Normalised reduce axes of the node (all axes when none are given). */
function reduceAxes(c: GradContext): number[] | 'noop' {
  const x = c.x(0);
  const axes = c.ints('axes') ?? (c.hasInput(1) ? c.constInput(1, 'axes') : []);
  if (axes.length === 0) return c.int('noop_with_empty_axes', 0) ? 'noop' : x.shape.map((_, i) => i);
  return axes.map((a) => normAxis(a, x.rank, 'reduce axis'));
}

/** dY reshaped to keepdims form, so it broadcasts against X. */
function keptGrad(c: GradContext, v: Value, axes: number[]): Value {
  return c.int('keepdims', 1) || v.rank === 0 ? v : c.g.unsqueeze(v, axes);
}

function countOf(c: GradContext, axes: number[]): Value {
  const x = c.x(0);
  const dims = axes.map((a) => x.shape[a]!);
  if (dims.every((d) => typeof d === 'number')) return c.scalar(x, (dims as number[]).reduce((p, d) => p * d, 1));
  return c.g.cast(c.g.div(c.g.op('Size', [x]), c.g.op('Size', [c.y()])), x.dtype);
}

registerGradient(['ReduceSum', 'ReduceMean', 'ReduceSumSquare'], (c) => {
  const axes = reduceAxes(c);
  const dy = c.dy(0)!;
  if (axes === 'noop') return [c.node.opType === 'ReduceSumSquare' ? c.g.mul(dy, c.g.mul(c.x(0), 2)) : dy];
  let d = c.g.expand(keptGrad(c, dy, axes), c.shapeOf(c.x(0)));
  if (c.node.opType === 'ReduceMean') d = c.g.div(d, countOf(c, axes));
  if (c.node.opType === 'ReduceSumSquare') d = c.g.mul(d, c.g.mul(c.x(0), 2));
  return [d];
});

// Ties share the gradient equally among the tied elements, as torch.amax/amin (not torch.max(dim), which
// picks one index).
registerGradient(['ReduceMax', 'ReduceMin'], (c) => {
  const { g } = c;
  const axes = reduceAxes(c);
  if (axes === 'noop') return [c.dy(0)!];
  const x = c.x(0);
  const mask = g.cast(g.equal(x, keptGrad(c, c.y(), axes)), x.dtype);
  const count = g.reduceSum(mask, axes, true);
  return [g.mul(mask, g.div(keptGrad(c, c.dy(0)!, axes), count))];
});

registerGradient('Softmax', (c) => {
  const { g } = c;
  const y = c.y();
  const axis = c.int('axis', -1);
  const dy = c.dy(0)!;
  return [g.mul(y, g.sub(dy, g.reduceSum(g.mul(dy, y), [axis], true)))];
});

registerGradient('LogSoftmax', (c) => {
  const { g } = c;
  const axis = c.int('axis', -1);
  const dy = c.dy(0)!;
  return [g.sub(dy, g.mul(g.exp(c.y()), g.reduceSum(dy, [axis], true)))];
});

registerGradient('CumSum', (c) => [
  c.g.op('CumSum', [c.dy(0)!, c.x(1)], { exclusive: c.int('exclusive', 0), reverse: c.int('reverse', 0) ? 0 : 1 }),
]);

// Uses the saved Mean and InvStdDev outputs (added to the forward node when it did not request them).
registerGradient('LayerNormalization', (c) => {
  const { g } = c;
  const x = c.x(0);
  const scale = c.x(1);
  const axis = normAxis(c.int('axis', -1), x.rank, 'LayerNormalization axis');
  const normAxes = Array.from({ length: x.rank - axis }, (_, i) => axis + i);
  const leadAxes = Array.from({ length: axis }, (_, i) => i);
  const asX = (v: Value) => (v.dtype === x.dtype ? v : g.cast(v, x.dtype));
  const mean = asX(c.saved(1, 'ln_mean'));
  const inv = asX(c.saved(2, 'ln_invstd'));
  const dy = c.dyOrZeros(0);
  const xhat = g.mul(g.sub(x, mean), inv);
  const sumLead = (v: Value) => (leadAxes.length ? g.reduceSum(v, leadAxes, false) : v);
  const dscale = c.wants(1) ? sumLead(g.mul(dy, xhat)) : undefined;
  const dbias = c.hasInput(2) && c.wants(2) ? sumLead(dy) : undefined;
  let dx: Value | undefined;
  if (c.wants(0)) {
    const dxhat = g.mul(dy, scale);
    const m1 = g.reduceMean(dxhat, normAxes, true);
    const m2 = g.reduceMean(g.mul(dxhat, xhat), normAxes, true);
    dx = g.mul(inv, g.sub(g.sub(dxhat, m1), g.mul(xhat, m2)));
  }
  return [dx, dscale, dbias];
});

// Scores [N, C, d1...], labels [N, d1...]. Gradient: coef * (softmax - onehot) per position, where
// coef folds the reduction, the ignore mask and the class weights; plus the log_prob output's own path.
registerGradient('SoftmaxCrossEntropyLoss', (c) => {
  const { g } = c;
  const scores = c.x(0);
  const labels = c.x(1);
  const dt = scores.dtype;
  const logp = c.saved(1, 'sce_log_prob');
  const p = g.exp(logp);
  let dx: Value | undefined;
  const dloss = c.dy(0);
  if (dloss) {
    const ignore = c.node.attrs.ignore_index ? c.int('ignore_index', -100) : undefined;
    const keep = ignore === undefined ? undefined : g.not(g.equal(labels, g.scalar(ignore, labels.dtype)));
    const safe = keep ? g.where(keep, labels, g.scalar(0, labels.dtype)) : labels;
    let w: Value = keep ? g.cast(keep, dt) : c.onesLike(g.cast(labels, dt));
    if (c.hasInput(2)) w = g.mul(w, g.gather(c.x(2), safe));
    const reduction = c.str('reduction', 'mean');
    let coef = g.mul(w, dloss);
    if (reduction === 'mean') {
      const total = g.reduceSum(w, undefined, false);
      coef = g.div(coef, g.where(g.equal(total, 0), g.scalar(1, dt), total));
    }
    const C = scores.shape[1]!;
    const classes = typeof C === 'number'
      ? g.range(0, C, 1, labels.dtype)
      : g.op('Range', [g.scalar(0, labels.dtype), g.cast(g.squeeze(g.shape(scores, 1, 2), [0]), labels.dtype), g.scalar(1, labels.dtype)]);
    const classAxis = g.reshape(classes, [1, -1, ...Array(scores.rank - 2).fill(1)]);
    const onehot = g.cast(g.equal(g.unsqueeze(safe, [1]), classAxis), dt);
    dx = g.mul(g.unsqueeze(coef, [1]), g.sub(p, onehot));
  }
  const dlogp = c.dy(1);
  if (dlogp) {
    const d = g.sub(dlogp, g.mul(p, g.reduceSum(dlogp, [1], true)));
    dx = dx ? g.add(dx, d) : d;
  }
  return [dx];
});
