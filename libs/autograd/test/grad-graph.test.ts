// Structure of gradient graphs: outputs, pruning, skipping, errors, custom rules, symbolic shapes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { GraphBuilder, toModelBytes, type Graph } from '@juice/onnx';
import { forwardOnly, grad, registerGradient } from '../src/index.js';
import { expectGradients } from './check-helper.js';

function classifier(): Graph {
  const g = new GraphBuilder('clf');
  const x = g.input('x', 'float32', ['B', 4]);
  const labels = g.input('labels', 'int64', ['B']);
  const w1 = g.input('w1', 'float32', [4, 8]);
  const b1 = g.input('b1', 'float32', [8]);
  const w2 = g.input('w2', 'float32', [8, 3]);
  const unused = g.input('unused', 'float32', [2]);
  const logits = g.matmul(g.tanh(g.add(g.matmul(x, w1), b1)), w2);
  const [loss] = g.softmaxCrossEntropyLoss(logits, labels);
  g.output(loss, 'loss');
  // A metric: ArgMax/Equal/Cast have no gradient rules but are off the loss path.
  g.output(g.reduceMean(g.cast(g.equal(g.argmax(logits, 1), labels), 'float32'), undefined, false), 'accuracy');
  g.output(g.mul(unused, 2), 'other');
  return g.build();
}

test('grad outputs loss, metrics and grad.<name>, and prunes unrelated outputs', () => {
  const fwd = classifier();
  const tg = grad(fwd, { loss: 'loss', wrt: ['w1', 'b1', 'w2', 'unused'], keepOutputs: ['accuracy'] });
  assert.deepEqual(tg.outputs, ['loss', 'accuracy', 'grad.w1', 'grad.b1', 'grad.w2', 'grad.unused']);
  assert.deepEqual(tg.values.get('grad.b1'), { dtype: 'float32', shape: [8] });
  assert.deepEqual(tg.values.get('grad.w1'), { dtype: 'float32', shape: [4, 8] });
  assert.ok(!tg.nodes.some((n) => n.outputs.includes('other')), 'the unrelated output is pruned');
  // Inputs stay so one feed works for every graph cut from the model.
  assert.deepEqual(tg.inputs, fwd.inputs);
});

test('forwardOnly carries no backward nodes', () => {
  const fwd = classifier();
  const tg = grad(fwd, { loss: 'loss', wrt: ['w1', 'b1', 'w2'], keepOutputs: ['accuracy'] });
  const ev = forwardOnly(tg, ['loss', 'accuracy']);
  assert.ok(ev.nodes.length < tg.nodes.length / 2, `${ev.nodes.length} vs ${tg.nodes.length}`);
  assert.deepEqual(ev.nodes.map((n) => n.opType), forwardOnly(fwd, ['loss', 'accuracy']).nodes.map((n) => n.opType));
  assert.deepEqual(forwardOnly(fwd, ['loss'], { pruneInputs: true }).inputs, ['x', 'labels', 'w1', 'b1', 'w2']);
});

test('unused wrt gets zeros; the run matches the forward loss', async () => {
  const fwd = classifier();
  const tg = grad(fwd, { loss: 'loss', wrt: ['w1', 'unused'], keepOutputs: ['accuracy'] });
  const s = await ort.InferenceSession.create(toModelBytes(tg), { graphOptimizationLevel: 'basic', enableMemPattern: false });
  const f = (dims: number[], n = dims.reduce((a, b) => a * b, 1)) => new ort.Tensor('float32', Float32Array.from({ length: n }, (_, i) => Math.sin(i)), dims);
  const r = await s.run({ x: f([5, 4]), labels: new ort.Tensor('int64', BigInt64Array.from([0n, 1n, 2n, 1n, 0n]), [5]), w1: f([4, 8]), b1: f([8]), w2: f([8, 3]), unused: f([2]) });
  assert.deepEqual(Array.from(r['grad.unused']!.data as Float32Array), [0, 0]);
  assert.equal(r['grad.w1']!.dims.join(), '4,8');
  assert.ok(Number.isFinite(r.loss!.data[0] as number));
  await s.release();
});

test('a missing rule on the path is an error naming the op; integer inputs are skipped', () => {
  const g = new GraphBuilder('t');
  const x = g.input('x', 'float32', [3]);
  g.output(g.reduceSum(g.op('Sin', [x]), undefined, false), 'loss');
  assert.throws(() => grad(g.build(), { loss: 'loss', wrt: ['x'] }), /no gradient rule for op Sin/);
  const ids = g.input('ids', 'int64', [3]);
  assert.throws(() => grad(g.build(), { loss: 'loss', wrt: ['ids'] }), /dtype int64 is not floating point/);
});

test('registerGradient extends the rule set (Sin, checked by finite differences)', async () => {
  registerGradient('Sin', (c) => [c.g.mul(c.dy(0)!, c.g.op('Cos', [c.x(0)]))]);
  await expectGradients({ inputs: { x: { shape: [4] } }, build: (g, x) => g.op('Sin', [x.x!]) });
});

test('symbolic batch dims: a tiny LM (embedding, layer norm, MLP, cross-entropy) in float64, tol 1e-5', async () => {
  await expectGradients({
    tol: 1e-5,
    inputs: {
      ids: { shape: ['B', 'T'], dims: [2, 3], dtype: 'int64', values: [1, 4, 1, 0, 2, 1] },
      labels: { shape: ['B', 'T'], dims: [2, 3], dtype: 'int64', values: [4, 1, -100, 0, 3, 3] },
      emb: { shape: [5, 4] },
      ln: { shape: [4], range: [0.5, 1.5] },
      w: { shape: [4, 6] },
      b: { shape: [6] },
      out: { shape: [6, 4] },
    },
    build: (g, x) => {
      const h = g.gather(x.emb!, x.ids!);
      const [n] = g.layerNorm(h, x.ln!);
      const m = g.add(h, g.matmul(g.tanh(g.add(g.matmul(n, x.w!), x.b!)), x.out!));
      // Tied embedding: emb gets gradient from both the Gather and this MatMul.
      const logits = g.matmul(m, g.transpose(x.emb!, [1, 0]));
      const [loss] = g.softmaxCrossEntropyLoss(g.reshape(logits, [-1, 5]), g.reshape(x.labels!, [-1]), { ignoreIndex: -100 });
      return loss;
    },
  });
});
