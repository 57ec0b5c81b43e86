import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder, dimProduct, dimDivide, tensor } from '../src/index.js';

const shapeOf = (v: { shape: readonly (number | string)[] }) => [...v.shape];

test('MatMul broadcasts batch dims and keeps symbols', () => {
  const g = new GraphBuilder('t');
  const a = g.input('a', 'float32', ['B', 1, 'T', 8]);
  const b = g.input('b', 'float32', [4, 8, 16]);
  assert.deepEqual(shapeOf(g.matmul(a, b)), ['B', 4, 'T', 16]);
  assert.throws(() => g.matmul(a, g.input('c', 'float32', [7, 3])), /inner dims differ.*\[B,1,T,8\] x \[7,3\]/);
});

test('Gemm with transposes', () => {
  const g = new GraphBuilder('t');
  const a = g.input('a', 'float32', [8, 'M']);
  const b = g.input('b', 'float32', [5, 8]);
  assert.deepEqual(shapeOf(g.gemm(a, b, undefined, { transA: 1, transB: 1 })), ['M', 5]);
});

test('elementwise broadcasting, scalars, comparisons and Where', () => {
  const g = new GraphBuilder('t');
  const x = g.input('x', 'float32', ['B', 1, 4]);
  const y = g.input('y', 'float32', ['T', 1]);
  const s = g.add(x, y);
  assert.deepEqual(shapeOf(s), ['B', 'T', 4]);
  assert.deepEqual(shapeOf(g.mul(s, 2)), ['B', 'T', 4]);
  const c = g.less(x, 0);
  assert.equal(c.dtype, 'bool');
  assert.deepEqual(shapeOf(g.where(c, x, y)), ['B', 'T', 4]);
  assert.equal(g.cast(x, 'int64').dtype, 'int64');
  assert.throws(() => g.add(x, g.input('z', 'float32', [3])), /do not broadcast/);
  assert.throws(() => g.add(x, g.input('w', 'float64', [4])), /share a dtype/);
});

test('Reshape with 0 and -1 infers symbolic products', () => {
  const g = new GraphBuilder('t');
  const x = g.input('x', 'float32', ['B', 'T', 8]);
  const flat = g.reshape(x, [-1, 8]);
  assert.deepEqual(shapeOf(flat), ['B*T', 8]);
  assert.deepEqual(shapeOf(g.reshape(x, [0, 0, 2, 4])), ['B', 'T', 2, 4]);
  assert.deepEqual(shapeOf(g.reshape(x, [0, -1])), ['B', '8*T']);
  assert.deepEqual(shapeOf(g.reshape(flat, g.shape(x))), ['B', 'T', 8]);
  assert.equal(dimProduct([2, 'B', 3]), '6*B');
  assert.equal(dimDivide('6*B*T', 'B*3'), '2*T');
  assert.throws(() => g.reshape(g.input('s', 'float32', [2, 3]), [4, 2]), /cannot reshape \[2,3\]/);
});

test('shape values flow through Shape/Gather/Concat into Expand and ConstantOfShape', () => {
  const g = new GraphBuilder('t');
  const x = g.input('x', 'float32', ['B', 'T', 8]);
  const bt = g.slice(g.shape(x), [0], [2]);
  const target = g.concat([bt, g.ints([1])], 0);
  assert.deepEqual(shapeOf(g.constantOfShape(target)), ['B', 'T', 1]);
  const one = g.input('one', 'float32', [1]);
  assert.deepEqual(shapeOf(g.expand(one, g.shape(x))), ['B', 'T', 8]);
  const first = g.gather(g.shape(x), g.ints([1]));
  assert.deepEqual(shapeOf(g.reshape(g.input('v', 'float32', ['T']), g.concat([g.ints([1]), first], 0))), [1, 'T']);
});

test('layout ops: Transpose, Concat, Split, Slice, Squeeze, Unsqueeze, Gather', () => {
  const g = new GraphBuilder('t');
  const x = g.input('x', 'float32', ['B', 6, 4]);
  assert.deepEqual(shapeOf(g.transpose(x, [2, 0, 1])), [4, 'B', 6]);
  assert.deepEqual(shapeOf(g.transpose(x)), [4, 6, 'B']);
  assert.deepEqual(shapeOf(g.concat([x, x], 1)), ['B', 12, 4]);
  assert.deepEqual(shapeOf(g.concat([x, x], 0))[1], 6);
  assert.deepEqual(g.split(x, [2, 4], 1).map(shapeOf), [['B', 2, 4], ['B', 4, 4]]);
  assert.deepEqual(g.op('Split', [x], { axis: 1, num_outputs: 3 }, { outputs: 3 }).map(shapeOf), [['B', 2, 4], ['B', 2, 4], ['B', 2, 4]]);
  assert.deepEqual(shapeOf(g.slice(x, [1, 0], [5, 99], [1, 2])), ['B', 4, 4]);
  assert.deepEqual(shapeOf(g.slice(x, [-1], [-3], [1], [-1])), ['B', 2, 4]);
  assert.deepEqual(shapeOf(g.slice(x, [-2], [2 ** 62], [0])), [2, 6, 4]);
  const u = g.unsqueeze(x, [0, -1]);
  assert.deepEqual(shapeOf(u), [1, 'B', 6, 4, 1]);
  assert.deepEqual(shapeOf(g.squeeze(u, [0, 4])), ['B', 6, 4]);
  assert.deepEqual(shapeOf(g.squeeze(u)), ['B', 6, 4]);
  const ids = g.input('ids', 'int64', ['B', 'T']);
  const emb = g.input('emb', 'float32', [100, 16]);
  assert.deepEqual(shapeOf(g.gather(emb, ids)), ['B', 'T', 16]);
  assert.deepEqual(shapeOf(g.gather(x, g.constant(tensor('int64', [], [0])), 1)), ['B', 4]);
});

test('reductions, softmax, layer norm, cross-entropy, top-k, arg-max, einsum, range', () => {
  const g = new GraphBuilder('t');
  const x = g.input('x', 'float32', ['B', 'T', 8]);
  assert.deepEqual(shapeOf(g.reduceSum(x, [-1])), ['B', 'T', 1]);
  assert.deepEqual(shapeOf(g.reduceMean(x, [1, 2], false)), ['B']);
  assert.deepEqual(shapeOf(g.reduceMax(x, undefined, false)), []);
  assert.deepEqual(shapeOf(g.reduceSumSquare(x)), [1, 1, 1]);
  assert.deepEqual(shapeOf(g.softmax(x)), ['B', 'T', 8]);
  const [y, mean, inv] = g.layerNorm(x, g.input('s', 'float32', [8]));
  assert.deepEqual([y, mean, inv].map(shapeOf), [['B', 'T', 8], ['B', 'T', 1], ['B', 'T', 1]]);
  const logits = g.input('logits', 'float32', ['N', 10]);
  const [loss, logp] = g.softmaxCrossEntropyLoss(logits, g.input('labels', 'int64', ['N']), { ignoreIndex: -100 });
  assert.deepEqual(shapeOf(loss), []);
  assert.deepEqual(shapeOf(logp), ['N', 10]);
  const [vals, idx] = g.topk(x, 3);
  assert.deepEqual(shapeOf(vals), ['B', 'T', 3]);
  assert.equal(idx.dtype, 'int64');
  assert.deepEqual(shapeOf(g.argmax(x)), ['B', 'T']);
  assert.deepEqual(shapeOf(g.einsum('btd,de->bte', x, g.input('w', 'float32', [8, 5]))), ['B', 'T', 5]);
  assert.deepEqual(shapeOf(g.einsum('...d,ed', x, g.input('w2', 'float32', [5, 8]))), ['B', 'T', 5]);
  assert.deepEqual(shapeOf(g.range(0, 7, 2)), [4]);
  assert.deepEqual(shapeOf(g.trilu(g.input('m', 'float32', [4, 4]), false)), [4, 4]);
  assert.deepEqual(shapeOf(g.cumsum(x, 1)), ['B', 'T', 8]);
});

test('constants are deduplicated, names are unique', () => {
  const g = new GraphBuilder('t');
  const a = g.constant(tensor('float32', [2], [1, 2]));
  const b = g.constant(tensor('float32', [2], [1, 2]));
  const c = g.constant(tensor('float32', [1, 2], [1, 2]));
  const d = g.constant(tensor('float64', [2], [1, 2]));
  assert.equal(a.name, b.name);
  assert.notEqual(a.name, c.name);
  assert.notEqual(a.name, d.name);
  assert.equal(g.scalar(2).name, g.scalar(2).name);
  assert.equal(g.build().initializers.size, 4);
  const x = g.input('x', 'float32', [2]);
  const names = [g.relu(x), g.relu(x), g.relu(x)].map((v) => v.name);
  assert.equal(new Set(names).size, 3);
  assert.throws(() => g.input('x', 'float32', [2]), /name x is already used/);
});

test('errors name the op and its inputs', () => {
  const g = new GraphBuilder('t');
  const x = g.input('x', 'float32', [2, 3]);
  assert.throws(() => g.transpose(x, [0]), /Transpose: perm \[0\] does not match rank 2 \(in Transpose\(x: float32\[2,3\]\)\)/);
  assert.throws(() => g.op('NoSuchOp', [x]), /no shape inference for op NoSuchOp/);
  const [custom] = g.op('MyOp', [x], {}, { outputs: 1 as number, domain: 'juice', types: [{ dtype: 'float32', shape: [2] }] });
  assert.deepEqual(shapeOf(custom!), [2]);
});
