// Shape-manipulating ops and constant producers, plus symbolic "shape value" tracking so that
// Reshape(x, Shape(y)) and Expand(x, Concat(Shape(y)[0:2], [4])) infer real shapes.
import { attrInt, attrInts, type Attr } from '../attributes.js';
import type { DType } from '../dtype.js';
import type { ValueType } from '../graph.js';
import { broadcastShapes, dimDivide, dimProduct, formatShape, normAxis, type Dim } from '../shape.js';
import { tensorValues } from '../tensor.js';
import { need, registerInference, registerShapeValue, type InferContext } from './registry.js';

const BIG = 2 ** 62;

registerInference('Shape', (ctx) => {
  const rank = need(ctx, 0).shape.length;
  const [s, e] = shapeRange(ctx, rank);
  return [{ dtype: 'int64', shape: [Math.max(0, e - s)] }];
});
registerShapeValue('Shape', (ctx) => {
  const shape = need(ctx, 0).shape;
  const [s, e] = shapeRange(ctx, shape.length);
  return shape.slice(s, e);
});

function shapeRange(ctx: InferContext, rank: number): [number, number] {
  const clamp = (v: number) => Math.min(rank, Math.max(0, v < 0 ? v + rank : v));
  return [clamp(attrInt(ctx.attrs, 'start', 0)), clamp(attrInt(ctx.attrs, 'end', rank))];
}

registerInference('Size', () => [{ dtype: 'int64', shape: [] }]);

registerInference('Reshape', (ctx) => {
  const x = need(ctx, 0);
  const target = ctx.shapeValue(1);
  if (!target) {
    const n = need(ctx, 1).shape[0];
    if (typeof n !== 'number') throw new Error('Reshape: the target shape has unknown length');
    return [{ dtype: x.dtype, shape: Array.from({ length: n }, () => ctx.fresh()) }];
  }
  const allowZero = attrInt(ctx.attrs, 'allowzero', 0) === 1;
  const out: Dim[] = target.map((d, i) => (d === 0 && !allowZero ? x.shape[i] ?? ctx.fresh() : d));
  const inferred = out.indexOf(-1);
  if (inferred >= 0) {
    const known = out.filter((_, i) => i !== inferred);
    out[inferred] = dimDivide(dimProduct(x.shape), dimProduct(known)) ?? ctx.fresh();
  }
  const total = dimProduct(x.shape);
  const got = dimProduct(out);
  if (typeof total === 'number' && typeof got === 'number' && total !== got) {
    throw new Error(`Reshape: cannot reshape ${formatShape(x.shape)} (${total} elements) to ${formatShape(out)}`);
  }
  return [{ dtype: x.dtype, shape: out }];
});

registerInference('Transpose', (ctx) => {
  const x = need(ctx, 0);
  const perm = attrInts(ctx.attrs, 'perm') ?? x.shape.map((_, i) => x.shape.length - 1 - i);
  if (perm.length !== x.shape.length) throw new Error(`Transpose: perm [${perm}] does not match rank ${x.shape.length}`);
  return [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]!) }];
});

registerInference('Concat', (ctx) => {
  const xs = ctx.inputs.filter((t): t is ValueType => t !== undefined);
  const rank = xs[0]!.shape.length;
  const axis = normAxis(attrInt(ctx.attrs, 'axis', 0), rank, 'Concat axis');
  const out = [...xs[0]!.shape];
  let sum: number | undefined = 0;
  for (const x of xs) {
    if (x.shape.length !== rank || x.dtype !== xs[0]!.dtype) {
      throw new Error(`Concat: inputs differ in rank or dtype: ${xs.map((t) => t.dtype + formatShape(t.shape)).join(', ')}`);
    }
    const d = x.shape[axis]!;
    sum = typeof d === 'number' && sum !== undefined ? sum + d : undefined;
  }
  const nonEmpty = xs.filter((x) => x.shape[axis] !== 0);
  out[axis] = sum ?? (nonEmpty.length === 1 ? nonEmpty[0]!.shape[axis]! : ctx.fresh());
  return [{ dtype: xs[0]!.dtype, shape: out }];
});
registerShapeValue('Concat', (ctx) => {
  const parts = ctx.inputs.map((_, i) => ctx.shapeValue(i));
  return parts.every((p) => p !== undefined) ? parts.flat() as Dim[] : undefined;
});

registerInference('Split', (ctx) => {
  const x = need(ctx, 0);
  const axis = normAxis(attrInt(ctx.attrs, 'axis', 0), x.shape.length, 'Split axis');
  const n = ctx.numOutputs;
  const given: Dim[] | undefined = ctx.inputs[1] ? ctx.shapeValue(1) ?? ctx.constValues(1) : attrInts(ctx.attrs, 'split');
  const d = x.shape[axis]!;
  let sizes: Dim[];
  if (given) sizes = given;
  else if (ctx.inputs[1]) sizes = Array.from({ length: n }, () => ctx.fresh());
  else if (typeof d === 'number') {
    const chunk = Math.ceil(d / n);
    sizes = Array.from({ length: n }, (_, i) => Math.max(0, Math.min(chunk, d - i * chunk)));
  } else sizes = Array.from({ length: n }, () => dimDivide(d, n) ?? ctx.fresh());
  if (sizes.length !== n) throw new Error(`Split: ${sizes.length} split sizes for ${n} outputs`);
  return sizes.map((s) => ({ dtype: x.dtype, shape: x.shape.map((e, i) => (i === axis ? s : e)) }));
});

registerInference('Slice', (ctx) => {
  const x = need(ctx, 0);
  const rank = x.shape.length;
  const starts = ctx.constValues(1);
  const ends = ctx.constValues(2);
  const axesIn = ctx.inputs[3] ? ctx.constValues(3) : starts?.map((_, i) => i);
  const steps = ctx.inputs[4] ? ctx.constValues(4) : starts?.map(() => 1);
  if (!starts || !ends || !axesIn || !steps) {
    const fixed = axesIn?.map((a) => normAxis(a, rank, 'Slice axis'));
    return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (fixed && !fixed.includes(i) ? d : ctx.fresh())) }];
  }
  const out = [...x.shape];
  axesIn.forEach((a, j) => {
    const axis = normAxis(a, rank, 'Slice axis');
    out[axis] = sliceLength(x.shape[axis]!, starts[j]!, ends[j]!, steps[j]!, ctx.fresh);
  });
  return [{ dtype: x.dtype, shape: out }];
});
registerShapeValue('Slice', (ctx) => {
  const v = ctx.shapeValue(0);
  const [s, e, a, st] = [1, 2, 3, 4].map((i) => (ctx.inputs[i] ? ctx.constValues(i) : undefined));
  if (!v || !s || !e || (a && a[0] !== 0 && a[0] !== -1) || (st && st[0] !== 1)) return undefined;
  const [lo, hi] = clampRange(v.length, s[0]!, e[0]!, 1);
  return v.slice(lo, Math.max(lo, hi));
});

function clampRange(dim: number, start: number, end: number, step: number): [number, number] {
  const norm = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v < 0 ? v + dim : v));
  return step > 0 ? [norm(start, 0, dim), norm(end, 0, dim)] : [norm(start, 0, dim - 1), norm(end, -1, dim - 1)];
}

/** Slice length; for a symbolic dim, assumes the dim is large enough to hold the requested range. */
function sliceLength(dim: Dim, start: number, end: number, step: number, fresh: () => string): Dim {
  if (typeof dim === 'number') {
    const [s, e] = clampRange(dim, start, end, step);
    return Math.max(0, Math.ceil((e - s) / step));
  }
  if (step === 1 && start === 0 && end >= BIG) return dim;
  if (step === 1 && start >= 0 && end > start && end < BIG) return end - start;
  if (step === 1 && start < 0 && end >= BIG) return -start;
  if (step === 1 && start < 0 && end < 0 && end > start) return end - start;
  return fresh();
}

function axesOf(ctx: InferContext): number[] | undefined {
  return attrInts(ctx.attrs, 'axes') ?? (ctx.inputs[1] ? ctx.constValues(1) : undefined);
}

registerInference('Squeeze', (ctx) => {
  const x = need(ctx, 0);
  const axes = axesOf(ctx);
  if (!axes && ctx.inputs[1]) throw new Error('Squeeze: axes must be constant');
  const drop = new Set(axes ? axes.map((a) => normAxis(a, x.shape.length, 'Squeeze axis')) : x.shape.flatMap((d, i) => (d === 1 ? [i] : [])));
  for (const a of drop) {
    const d = x.shape[a]!;
    if (typeof d === 'number' && d !== 1) throw new Error(`Squeeze: axis ${a} of ${formatShape(x.shape)} is not 1`);
  }
  return [{ dtype: x.dtype, shape: x.shape.filter((_, i) => !drop.has(i)) }];
});
registerShapeValue('Squeeze', (ctx) => ctx.shapeValue(0));

registerInference('Unsqueeze', (ctx) => {
  const x = need(ctx, 0);
  const axes = axesOf(ctx);
  if (!axes) throw new Error('Unsqueeze: axes must be constant');
  const rank = x.shape.length + axes.length;
  const at = new Set(axes.map((a) => normAxis(a, rank, 'Unsqueeze axis')));
  const out: Dim[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) out.push(at.has(i) ? 1 : x.shape[k++]!);
  return [{ dtype: x.dtype, shape: out }];
});
registerShapeValue('Unsqueeze', (ctx) => ctx.shapeValue(0));

registerInference('Expand', (ctx) => {
  const x = need(ctx, 0);
  const target = ctx.shapeValue(1);
  const n = need(ctx, 1).shape[0];
  const t = target ?? (typeof n === 'number' ? Array.from({ length: n }, () => ctx.fresh()) : undefined);
  if (!t) throw new Error('Expand: the target shape has unknown length');
  return [{ dtype: x.dtype, shape: broadcastShapes([x.shape, t], ctx.fresh, 'Expand') }];
});

registerInference('Gather', (ctx) => {
  const x = need(ctx, 0);
  const idx = need(ctx, 1);
  const axis = normAxis(attrInt(ctx.attrs, 'axis', 0), x.shape.length, 'Gather axis');
  return [{ dtype: x.dtype, shape: [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)] }];
});
registerShapeValue('Gather', (ctx) => {
  const v = ctx.shapeValue(0);
  const idx = ctx.constValues(1);
  if (!v || !idx) return undefined;
  return idx.map((i) => v[i < 0 ? i + v.length : i]!);
});

registerInference('GatherElements', (ctx) => [{ dtype: need(ctx, 0).dtype, shape: need(ctx, 1).shape }]);

registerInference('GatherND', (ctx) => {
  const x = need(ctx, 0);
  const idx = need(ctx, 1);
  const b = attrInt(ctx.attrs, 'batch_dims', 0);
  const last = idx.shape[idx.shape.length - 1];
  if (typeof last !== 'number') throw new Error('GatherND: last dim of indices must be static');
  return [{ dtype: x.dtype, shape: [...idx.shape.slice(0, -1), ...x.shape.slice(b + last)] }];
});

registerInference(['ScatterND', 'ScatterElements'], (ctx) => [need(ctx, 0)]);

registerInference('Constant', (ctx) => {
  const t = constantAttr(ctx.attrs.value ?? ctx.attrs.value_float ?? ctx.attrs.value_int ?? ctx.attrs.value_ints ?? ctx.attrs.value_floats);
  return [t];
});
registerShapeValue('Constant', (ctx) => {
  const a = ctx.attrs.value ?? ctx.attrs.value_ints ?? ctx.attrs.value_int;
  if (!a) return undefined;
  if (a.kind === 'tensor') return a.value.dtype === 'int64' || a.value.dtype === 'int32' ? tensorValues(a.value) : undefined;
  if (a.kind === 'ints') return a.value;
  if (a.kind === 'int') return [a.value];
  return undefined;
});

function constantAttr(a: Attr | undefined): ValueType {
  if (!a) throw new Error('Constant: needs a value attribute');
  switch (a.kind) {
    case 'tensor': return { dtype: a.value.dtype, shape: a.value.dims };
    case 'float': return { dtype: 'float32', shape: [] };
    case 'int': return { dtype: 'int64', shape: [] };
    case 'ints': return { dtype: 'int64', shape: [a.value.length] };
    case 'floats': return { dtype: 'float32', shape: [a.value.length] };
    default: throw new Error(`Constant: unsupported value kind ${a.kind}`);
  }
}

registerInference('ConstantOfShape', (ctx) => {
  const v = ctx.attrs.value;
  const dtype: DType = v && v.kind === 'tensor' ? v.value.dtype : 'float32';
  const target = ctx.shapeValue(0);
  const n = need(ctx, 0).shape[0];
  if (target) return [{ dtype, shape: target }];
  if (typeof n !== 'number') throw new Error('ConstantOfShape: the shape input has unknown length');
  return [{ dtype, shape: Array.from({ length: n }, () => ctx.fresh()) }];
});

registerInference('Range', (ctx) => {
  const [s, l, d] = [0, 1, 2].map((i) => ctx.constValues(i)?.[0]);
  const len = s !== undefined && l !== undefined && d !== undefined ? Math.max(0, Math.ceil((l - s) / d)) : ctx.fresh();
  return [{ dtype: need(ctx, 0).dtype, shape: [len] }];
});

registerInference('OneHot', (ctx) => {
  const idx = need(ctx, 0);
  const depth = ctx.constValues(1)?.[0];
  const values = need(ctx, 2);
  const rank = idx.shape.length + 1;
  const axis = normAxis(attrInt(ctx.attrs, 'axis', -1), rank, 'OneHot axis');
  const out = [...idx.shape];
  out.splice(axis, 0, depth ?? ctx.fresh());
  return [{ dtype: values.dtype, shape: out }];
});

registerInference('Pad', (ctx) => {
  const x = need(ctx, 0);
  const pads = ctx.constValues(1);
  const axes = ctx.inputs[3] ? ctx.constValues(3) : x.shape.map((_, i) => i);
  if (!pads || !axes) return [{ dtype: x.dtype, shape: x.shape.map(() => ctx.fresh()) }];
  const out = [...x.shape];
  axes.forEach((a, j) => {
    const i = normAxis(a, x.shape.length, 'Pad axis');
    const d = out[i]!;
    const add = pads[j]! + pads[j + axes.length]!;
    out[i] = typeof d === 'number' ? d + add : add === 0 ? d : ctx.fresh();
  });
  return [{ dtype: x.dtype, shape: out }];
});

registerInference('Tile', (ctx) => {
  const x = need(ctx, 0);
  const reps = ctx.constValues(1);
  return [{
    dtype: x.dtype,
    shape: x.shape.map((d, i) => (reps ? (typeof d === 'number' ? d * reps[i]! : reps[i] === 1 ? d : dimProduct([d, reps[i]!])) : ctx.fresh())),
  }];
});

registerShapeValue(['Identity', 'Cast'], (ctx) => ctx.shapeValue(0));

