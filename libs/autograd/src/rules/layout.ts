// Shape-moving ops: their gradients move dY back (reshape, inverse transpose, split/concat, scatter).
import { normAxis, tensor, type Value } from '@juice/onnx';
import type { GradContext } from '../context.js';
import { registerGradient } from '../registry.js';

const reshapeBack = (c: GradContext) => [c.g.reshape(c.dy(0)!, c.shapeOf(c.x(0)))];
registerGradient(['Reshape', 'Squeeze', 'Unsqueeze', 'Flatten'], reshapeBack);

registerGradient('Transpose', (c) => {
  const x = c.x(0);
  const perm = c.ints('perm') ?? x.shape.map((_, i) => x.rank - 1 - i);
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => { inv[p] = i; });
  return [c.g.transpose(c.dy(0)!, inv)];
});

registerGradient('Concat', (c) => {
  const { g } = c;
  const xs = c.node.inputs.map((_, i) => c.x(i));
  const axis = normAxis(c.int('axis', 0), xs[0]!.rank, 'Concat axis');
  const sizes = xs.map((x) => x.shape[axis]!);
  const split = sizes.every((s) => typeof s === 'number')
    ? g.ints(sizes as number[])
    : g.concat(xs.map((x) => (typeof x.shape[axis] === 'number' ? g.ints([x.shape[axis] as number]) : g.shape(x, axis, axis + 1))), 0);
  return g.op('Split', [c.dy(0)!, split], { axis }, { outputs: xs.length });
});

registerGradient('Split', (c) => {
  const axis = c.int('axis', 0);
  const parts = c.node.outputs.map((_, i) => c.dyOrZeros(i));
  return [c.g.concat(parts, axis)];
});

registerGradient('Slice', (c) => {
  const { g } = c;
  const x = c.x(0);
  const dy = c.dy(0)!;
  const starts = c.maybeConstInput(1);
  const ends = c.maybeConstInput(2);
  const axes = c.hasInput(3) ? c.maybeConstInput(3) : starts?.map((_, i) => i);
  const steps = c.hasInput(4) ? c.maybeConstInput(4) : starts?.map(() => 1);
  // Fast path: unit steps, constant bounds, static sliced dims -> zero padding.
  if (starts && ends && axes && steps && steps.every((s) => s === 1)) {
    const norm = axes.map((a) => normAxis(a, x.rank, 'Slice axis'));
    if (norm.every((a) => typeof x.shape[a] === 'number')) {
      const pads = new Array<number>(2 * x.rank).fill(0);
      norm.forEach((a, j) => {
        const d = x.shape[a] as number;
        const clamp = (v: number) => Math.min(d, Math.max(0, v < 0 ? v + d : v));
        const s = clamp(starts[j]!);
        const e = Math.max(s, clamp(ends[j]!));
        pads[a] = s;
        pads[a + x.rank] = d - e;
      });
      return [g.op('Pad', [dy, g.ints(pads)], { mode: 'constant' })];
    }
  }
  // General path: slice a tensor of flat positions the same way, then scatter dY to those positions.
  const size = g.op('Size', [x]);
  const positions = g.reshape(g.op('Range', [g.scalar(0, 'int64'), size, g.scalar(1, 'int64')]), c.shapeOf(x));
  const picked = g.op('Slice', [positions, ...c.node.inputs.slice(1).map((n) => n || undefined)]);
  const zeros = g.op('ConstantOfShape', [g.reshape(size, [1])], { value: tensor(x.dtype, [1], [0]) });
  const flat = g.scatterElements(zeros, g.reshape(picked, [-1]), g.reshape(dy, [-1]), 0);
  return [g.reshape(flat, c.shapeOf(x))];
});

// Embedding-style gradient: scatter-add the rows of dY to their ids. ScatterElements, not ScatterND:
// onnxruntime 1.30's CPU ScatterND with reduction='add' splits the updates over the intra-op threads
// without synchronisation, so repeated ids lose updates (wrong, run-to-run different embedding
// gradients with >1 thread); ScatterElements accumulates sequentially, as fast on 2 cores.
function scatterAddRows(g: GradContext['g'], zeros: Value, ids: Value, dy: Value, restRank: number): Value {
  const updates = g.reshape(dy, g.concat([g.ints([-1]), g.shape(zeros, 1)], 0));
  const rows = g.reshape(ids, [-1, ...new Array<number>(restRank).fill(1)]);
  return g.scatterElements(zeros, g.expand(rows, g.shape(updates)), updates, 0, 'add');
}

registerGradient('Gather', (c) => {
  const { g } = c;
  const data = c.x(0);
  const idx = c.x(1);
  const axis = normAxis(c.int('axis', 0), data.rank, 'Gather axis');
  const dy = c.dy(0)!;
  const q = idx.rank;
  // Negative ids count from the end in Gather; make them explicit for the scatter.
  const n = data.shape[axis]!;
  const len = typeof n === 'number' ? g.scalar(n, idx.dtype) : g.cast(g.squeeze(g.shape(data, axis, axis + 1), [0]), idx.dtype);
  const pos = g.where(g.less(idx, g.scalar(0, idx.dtype)), g.add(idx, len), idx);
  const ids = idx.dtype === 'int64' ? pos : g.cast(pos, 'int64');
  if (axis === 0) return [scatterAddRows(g, c.zerosLike(data), ids, dy, data.rank - 1), undefined];
  // Other axes: move the gathered axis to the front, scatter, move it back.
  const perm = [axis, ...Array.from({ length: data.rank }, (_, i) => i).filter((i) => i !== axis)];
  const dataT = g.transpose(data, perm);
  const dyPerm = [
    ...Array.from({ length: q }, (_, i) => axis + i),
    ...Array.from({ length: axis }, (_, i) => i),
    ...Array.from({ length: dy.rank - axis - q }, (_, i) => axis + q + i),
  ];
  const scattered = scatterAddRows(g, c.zerosLike(dataT), ids, g.transpose(dy, dyPerm), data.rank - 1);
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => { inv[p] = i; });
  return [g.transpose(scattered, inv), undefined];
});

registerGradient('GatherElements', (c) => {
  const axis = c.int('axis', 0);
  return [c.g.scatterElements(c.zerosLike(c.x(0)), c.x(1), c.dy(0)!, axis, 'add'), undefined];
});

registerGradient('Trilu', (c) => [
  c.g.op('Trilu', c.hasInput(1) ? [c.dy(0)!, c.x(1)] : [c.dy(0)!], { upper: c.int('upper', 1) }),
]);

