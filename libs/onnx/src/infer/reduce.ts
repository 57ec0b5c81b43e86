// Reductions, arg/top-k, normalisation and the cross-entropy loss.
import { attrInt, attrInts, attrString } from '../attributes.js';
import type { DType } from '../dtype.js';
import { normAxis, type Dim } from '../shape.js';
import { need, registerInference, type InferContext } from './registry.js';

/** Reduce axes: the `axes` input (opset >= 18, ReduceSum >= 13) or the older attribute. */
function reduceAxes(ctx: InferContext): number[] | 'all' | 'unknown' {
  const attr = attrInts(ctx.attrs, 'axes');
  if (attr) return attr;
  if (ctx.inputs.length < 2 || ctx.inputs[1] === undefined) return 'all';
  const v = ctx.constValues(1);
  if (!v) return 'unknown';
  return v.length === 0 ? 'all' : v;
}

registerInference(
  ['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceSumSquare', 'ReduceL1', 'ReduceL2', 'ReduceLogSumExp'],
  (ctx) => {
    const x = need(ctx, 0);
    const keep = attrInt(ctx.attrs, 'keepdims', 1) === 1;
    const axes = reduceAxes(ctx);
    const rank = x.shape.length;
    if (axes === 'unknown') {
      const n = ctx.inputs[1]!.shape[0];
      if (keep) return [{ dtype: x.dtype, shape: x.shape.map(() => ctx.fresh()) }];
      if (typeof n !== 'number') throw new Error(`${ctx.opType}: axes are not constant and their count is unknown`);
      return [{ dtype: x.dtype, shape: Array.from({ length: rank - n }, () => ctx.fresh()) }];
    }
    if (axes === 'all' && attrInt(ctx.attrs, 'noop_with_empty_axes', 0) === 1) return [x];
    const set = new Set(axes === 'all' ? x.shape.map((_, i) => i) : axes.map((a) => normAxis(a, rank, `${ctx.opType} axis`)));
    const out: Dim[] = [];
    x.shape.forEach((d, i) => {
      if (!set.has(i)) out.push(d);
      else if (keep) out.push(1);
    });
    return [{ dtype: x.dtype, shape: out }];
  },
);

registerInference(['ArgMax', 'ArgMin'], (ctx) => {
  const x = need(ctx, 0);
  const axis = normAxis(attrInt(ctx.attrs, 'axis', 0), x.shape.length, `${ctx.opType} axis`);
  const keep = attrInt(ctx.attrs, 'keepdims', 1) === 1;
  const out = x.shape.flatMap((d, i) => (i !== axis ? [d] : keep ? [1] : []));
  return [{ dtype: 'int64', shape: out }];
});

registerInference('TopK', (ctx) => {
  const x = need(ctx, 0);
  const axis = normAxis(attrInt(ctx.attrs, 'axis', -1), x.shape.length, 'TopK axis');
  const k = ctx.constValues(1)?.[0];
  const shape = x.shape.map((d, i) => (i === axis ? (k ?? ctx.fresh()) : d));
  return [{ dtype: x.dtype, shape }, { dtype: 'int64', shape }];
});

registerInference('LayerNormalization', (ctx) => {
  const x = need(ctx, 0);
  const axis = normAxis(attrInt(ctx.attrs, 'axis', -1), x.shape.length, 'LayerNormalization axis');
  const stats = x.shape.map((d, i) => (i < axis ? d : 1));
  // Mean/InvStdDev have the stash type: float32 by default, even for float64 inputs (ORT 1.30 checks this).
  const statType: DType = attrInt(ctx.attrs, 'stash_type', 1) === 16 ? 'bfloat16' : 'float32';
  return [x, { dtype: statType, shape: stats }, { dtype: statType, shape: stats }].slice(0, Math.max(1, ctx.numOutputs));
});

registerInference('SoftmaxCrossEntropyLoss', (ctx) => {
  const scores = need(ctx, 0);
  const labels = need(ctx, 1);
  if (labels.dtype !== 'int64' && labels.dtype !== 'int32') throw new Error(`SoftmaxCrossEntropyLoss: labels must be int32/int64, got ${labels.dtype}`);
  if (scores.shape.length < 2) throw new Error('SoftmaxCrossEntropyLoss: scores must be [N, C, ...]');
  const reduction = attrString(ctx.attrs, 'reduction', 'mean');
  const loss = { dtype: scores.dtype, shape: reduction === 'none' ? labels.shape : [] };
  return ctx.numOutputs > 1 ? [loss, scores] : [loss];
});
