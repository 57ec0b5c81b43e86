// A 2-layer MLP regression trained with the gradient graph and plain SGD in JS. Parameters live in one
// flat Float32Array and are fed as zero-copy subarray views, as the trainer will do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { GraphBuilder, toModelBytes } from '@juice/onnx';
import { grad } from '../src/index.js';

test('MLP regression: loss falls by more than 10x with SGD', async () => {
  const B = 64, D = 3, H = 16;
  const g = new GraphBuilder('mlp');
  const x = g.input('x', 'float32', ['B', D]);
  const y = g.input('y', 'float32', ['B', 1]);
  const params = { w1: [D, H], b1: [H], w2: [H, 1], b2: [1] } as const;
  const p = Object.fromEntries(Object.entries(params).map(([k, s]) => [k, g.input(k, 'float32', [...s])]));
  const hidden = g.tanh(g.add(g.matmul(x, p.w1!), p.b1!));
  const pred = g.add(g.matmul(hidden, p.w2!), p.b2!);
  const err = g.sub(pred, y);
  g.output(g.reduceMean(g.mul(err, err), undefined, false), 'loss');
  const train = grad(g.build(), { loss: 'loss', wrt: Object.keys(params) });
  const session = await ort.InferenceSession.create(toModelBytes(train), { graphOptimizationLevel: 'basic', enableMemPattern: false });

  // One flat buffer; each parameter is a view.
  const sizes = Object.values(params).map((s) => s.reduce((a: number, b: number) => a * b, 1));
  const flat = new Float32Array(sizes.reduce((a, b) => a + b, 0));
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  for (let i = 0; i < flat.length; i++) flat[i] = rand() * 0.5;
  const offsets = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
  const views = Object.keys(params).map((k, i) => [k, flat.subarray(offsets[i]!, offsets[i]! + sizes[i]!)] as const);

  const xs = Float32Array.from({ length: B * D }, rand);
  const ys = Float32Array.from({ length: B }, (_, i) => Math.sin(2 * xs[i * D]!) + xs[i * D + 1]! * xs[i * D + 2]!);
  const feeds: Record<string, ort.Tensor> = { x: new ort.Tensor('float32', xs, [B, D]), y: new ort.Tensor('float32', ys, [B, 1]) };
  for (const [k, v] of views) feeds[k] = new ort.Tensor('float32', v, [...params[k as keyof typeof params]]);

  const lr = 0.2;
  let first = 0, last = 0;
  for (let step = 0; step < 400; step++) {
    const r = await session.run(feeds);
    last = (r.loss!.data as Float32Array)[0]!;
    if (step === 0) first = last;
    for (const [k, v] of views) {
      const gk = r[`grad.${k}`]!.data as Float32Array;
      for (let i = 0; i < v.length; i++) v[i]! -= lr * gk[i]!;
    }
  }
  await session.release();
  assert.ok(first / last > 10, `loss ${first} -> ${last}`);
  if (process.env.JUICE_VERBOSE) console.log(`loss ${first} -> ${last}`);
});
