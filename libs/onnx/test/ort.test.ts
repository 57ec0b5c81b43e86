// Graphs built here run on onnxruntime-node and match values computed in JS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder, tensor } from '../src/index.js';
import { close, f32, i64, run } from './ort-run.js';

const range = (n: number, f = (i: number) => i) => Array.from({ length: n }, (_, i) => f(i));

test('MLP: MatMul + Add + Relu, Gemm with transB', async () => {
  const g = new GraphBuilder('mlp');
  const x = g.input('x', 'float32', ['B', 3]);
  const w = g.input('w', 'float32', [3, 2]);
  const b = g.input('b', 'float32', [2]);
  g.output(g.relu(g.add(g.matmul(x, w), b)), 'y');
  g.output(g.gemm(x, g.transpose(w), b, { transB: 1, alpha: 2, beta: 0.5 }), 'z');
  const X = [1, 2, 3, -1, 0, 1];
  const W = [1, -1, 0.5, 2, -2, 1];
  const B = [0.1, -0.2];
  const r = await run(g.build(), { x: f32([2, 3], X), w: f32([3, 2], W), b: f32([2], B) });
  const mm = range(4, (k) => { const i = Math.floor(k / 2), j = k % 2; return range(3).reduce((s, t) => s + X[i * 3 + t]! * W[t * 2 + j]!, 0); });
  close(r.y!.data, mm.map((v, k) => Math.max(0, v + B[k % 2]!)));
  close(r.z!.data, mm.map((v, k) => 2 * v + 0.5 * B[k % 2]!));
});

test('softmax, log-softmax, layer norm with saved statistics, reductions', async () => {
  const g = new GraphBuilder('norm');
  const x = g.input('x', 'float32', [2, 4]);
  g.output(g.softmax(x), 'sm');
  g.output(g.logSoftmax(x), 'lsm');
  const [y, mean, inv] = g.layerNorm(x, g.constant(tensor('float32', [4], [1, 1, 1, 1])), g.constant(tensor('float32', [4], [0, 0, 0, 1])), { epsilon: 1e-5 });
  g.output(y, 'ln'); g.output(mean, 'mean'); g.output(inv, 'inv');
  g.output(g.reduceSum(x, [1], false), 'sum');
  g.output(g.reduceMean(x, [0]), 'mean0');
  g.output(g.reduceMax(x, [1], false), 'max');
  g.output(g.reduceSumSquare(x, undefined, false), 'ss');
  const X = [1, 2, 3, 4, -1, 0, 0, 5];
  const r = await run(g.build(), { x: f32([2, 4], X) });
  const rows = [X.slice(0, 4), X.slice(4)];
  const sm = rows.flatMap((row) => { const m = Math.max(...row); const e = row.map((v) => Math.exp(v - m)); const s = e.reduce((a, b) => a + b); return e.map((v) => v / s); });
  close(r.sm!.data, sm);
  close(r.lsm!.data, sm.map(Math.log));
  const mu = rows.map((row) => row.reduce((a, b) => a + b) / 4);
  const is = rows.map((row, i) => 1 / Math.sqrt(row.reduce((a, v) => a + (v - mu[i]!) ** 2, 0) / 4 + 1e-5));
  close(r.mean!.data, mu);
  close(r.inv!.data, is);
  close(r.ln!.data, rows.flatMap((row, i) => row.map((v, j) => (v - mu[i]!) * is[i]! + (j === 3 ? 1 : 0))));
  close(r.sum!.data, [10, 4]);
  assert.deepEqual(r.mean0!.dims, [1, 4]);
  close(r.mean0!.data, [0, 1, 1.5, 4.5]);
  close(r.max!.data, [4, 5]);
  close(r.ss!.data, [X.reduce((a, v) => a + v * v, 0)]);
});

test('cross-entropy with ignore_index and its log-prob output', async () => {
  const g = new GraphBuilder('ce');
  const logits = g.input('logits', 'float32', ['N', 3]);
  const labels = g.input('labels', 'int64', ['N']);
  const [loss, logp] = g.softmaxCrossEntropyLoss(logits, labels, { ignoreIndex: -100 });
  g.output(loss, 'loss'); g.output(logp, 'logp');
  const L = [1, 2, 3, 0, 0, 0, 5, 1, 1];
  const r = await run(g.build(), { logits: f32([3, 3], L), labels: i64([3], [2, -100, 0]) });
  const lp = (row: number[], k: number) => row[k]! - Math.log(row.reduce((a, v) => a + Math.exp(v), 0));
  close(r.loss!.data, [-(lp(L.slice(0, 3), 2) + lp(L.slice(6), 0)) / 2]);
  close(r.logp!.data.slice(0, 3), [0, 1, 2].map((k) => lp(L.slice(0, 3), k)));
});

test('gather embedding and scatter-add with repeated ids', async () => {
  const g = new GraphBuilder('emb');
  const table = g.input('table', 'float32', [4, 2]);
  const ids = g.input('ids', 'int64', ['B', 'T']);
  const e = g.gather(table, ids);
  g.output(e, 'e');
  const upd = g.reshape(e, [-1, 2]);
  g.output(g.scatterND(g.constantOfShape([4, 2]), g.reshape(ids, [-1, 1]), upd, 'add'), 'acc');
  g.output(g.scatterElements(g.constantOfShape([5]), g.reshape(ids, [-1]), g.reshape(g.cast(ids, 'float32'), [-1]), 0, 'add'), 'acc1');
  g.output(g.gatherElements(table, g.constant(tensor('int64', [1, 2], [3, 0]))), 'ge');
  const T = [0, 1, 10, 11, 20, 21, 30, 31];
  const r = await run(g.build(), { table: f32([4, 2], T), ids: i64([2, 2], [1, 1, 3, 0]) });
  assert.deepEqual(r.e!.dims, [2, 2, 2]);
  close(r.e!.data, [10, 11, 10, 11, 30, 31, 0, 1]);
  close(r.acc!.data, [0, 1, 20, 22, 0, 0, 30, 31]);
  close(r.acc1!.data, [0, 2, 0, 3, 0]);
  close(r.ge!.data, [30, 1]);
});

test('layout: reshape via Shape, transpose, concat, split, slice, squeeze/unsqueeze, expand', async () => {
  const g = new GraphBuilder('layout');
  const x = g.input('x', 'float32', ['B', 2, 3]);
  const flat = g.reshape(x, [-1, 3]);
  g.output(g.reshape(flat, g.shape(x)), 'back');
  g.output(g.transpose(x, [0, 2, 1]), 'tr');
  g.output(g.concat([x, x], 2), 'cat');
  const [p, q] = g.split(x, [1, 2], 2);
  g.output(p!, 'p'); g.output(q!, 'q');
  g.output(g.slice(x, [-1], [-4], [2], [-2]), 'rev');
  g.output(g.squeeze(g.unsqueeze(x, [1]), [1]), 'sq');
  g.output(g.expand(g.constant(tensor('float32', [3], [1, 2, 3])), g.shape(x)), 'ex');
  const X = range(6);
  const r = await run(g.build(), { x: f32([1, 2, 3], X) });
  close(r.back!.data, X);
  close(r.tr!.data, [0, 3, 1, 4, 2, 5]);
  close(r.cat!.data, [0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5]);
  close(r.p!.data, [0, 3]);
  close(r.q!.data, [1, 2, 4, 5]);
  close(r.rev!.data, [2, 0, 5, 3]);
  close(r.sq!.data, X);
  close(r.ex!.data, [1, 2, 3, 1, 2, 3]);
});

test('elementwise: where, compare, cast, clip, pow, erf, gelu, trilu, cumsum, range, topk, argmax, einsum', async () => {
  const g = new GraphBuilder('misc');
  const x = g.input('x', 'float32', [2, 2]);
  g.output(g.where(g.greater(x, 0), x, g.neg(x)), 'abs');
  g.output(g.cast(g.and(g.less(x, 2), g.not(g.equal(x, -1))), 'float32'), 'mask');
  g.output(g.clip(x, -0.5, 1.5), 'clip');
  g.output(g.pow(x, 2), 'sq');
  g.output(g.erf(x), 'erf');
  g.output(g.gelu(x), 'gelu');
  g.output(g.trilu(x, false), 'tril');
  g.output(g.cumsum(x, 1), 'cs');
  g.output(g.range(0, 5, 2), 'r');
  g.output(g.topk(x, 1)[0], 'top');
  g.output(g.argmax(x), 'am');
  g.output(g.einsum('ij,jk->ik', x, x), 'ein');
  g.output(g.max(g.min(x, 1), -0.5), 'mm');
  const X = [-1, 0.5, 2, 3];
  const r = await run(g.build(), { x: f32([2, 2], X) });
  const erf = (v: number) => { // Abramowitz-Stegun 7.1.26 (1.5e-7)
    const t = 1 / (1 + 0.3275911 * Math.abs(v));
    const y = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-v * v);
    return Math.sign(v) * y;
  };
  close(r.abs!.data, X.map(Math.abs));
  close(r.mask!.data, [0, 1, 0, 0]);
  close(r.clip!.data, [-0.5, 0.5, 1.5, 1.5]);
  close(r.sq!.data, X.map((v) => v * v));
  close(r.erf!.data, X.map(erf), 1e-6);
  close(r.gelu!.data, X.map((v) => 0.5 * v * (1 + erf(v / Math.SQRT2))), 1e-6);
  close(r.tril!.data, [-1, 0, 2, 3]);
  close(r.cs!.data, [-1, -0.5, 2, 5]);
  close(r.r!.data, [0, 2, 4]);
  close(r.top!.data, [0.5, 3]);
  close(r.am!.data, [1, 1]);
  close(r.ein!.data, [-1 * -1 + 0.5 * 2, -1 * 0.5 + 0.5 * 3, 2 * -1 + 3 * 2, 2 * 0.5 + 9]);
  close(r.mm!.data, [-0.5, 0.5, 1, 1]);
});
