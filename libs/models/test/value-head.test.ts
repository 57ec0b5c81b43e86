// The causal LM's optional value head (RFT's APA/PPO critic): its gradients, and the backbone's gradient
// through it, against central differences of the same float64 graph; and the head leaves the LM's own
// outputs untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { grad, forwardOnly } from '@juice/autograd';
import { GraphBuilder, toModelBytes } from '@juice/onnx';
import { buildCausalLm, gaussian, initParameters, valueHeadShapes, type ModelConfig } from '../src/index.js';

const config: ModelConfig = {
  architecture: 'llama', vocabSize: 11, hiddenSize: 8, intermediateSize: 12, numLayers: 2, numHeads: 2, numKvHeads: 1,
  headDim: 4, rmsNormEps: 1e-6, ropeTheta: 10000, maxPositions: 16, tieWordEmbeddings: false, qkvBias: false,
};
// 'basic': the extended fusions (QuickGelu) have float32 kernels only.
const OPTS = { graphOptimizationLevel: 'basic' as const };
const B = 2;
const T = 5;

function batch() {
  const ids = [1, 4, 7, 2, 0, 1, 3, 3, 9, 5];
  const mask = [1, 1, 1, 1, 0, 1, 1, 1, 1, 1];
  const labels = [-100, 7, 2, -100, -100, -100, 3, 9, 5, -100];
  const i64 = (v: number[]) => new ort.Tensor('int64', BigInt64Array.from(v.map(BigInt)), [B, T]);
  return { input_ids: i64(ids), attention_mask: i64(mask), labels: i64(labels) };
}

function weights(): Record<string, { shape: number[]; data: Float64Array }> {
  const p = initParameters(config, 5, 0.3);
  const out: Record<string, { shape: number[]; data: Float64Array }> = {};
  for (const e of p.entries) out[e.name] = { shape: [...e.shape], data: Float64Array.from(p.view(e.name)) };
  const rand = gaussian(17);
  for (const s of valueHeadShapes(config)) out[s.name] = { shape: s.shape, data: Float64Array.from({ length: s.shape.reduce((a, b) => a * b, 1) }, () => rand()) };
  return out;
}

test('value head: gradients of a projection of `values` match central differences (head and backbone)', async () => {
  const lm = buildCausalLm(config, { dtype: 'float64', valueHead: true });
  assert.ok(lm.trainable.includes('v_head.weight') && lm.trainable.includes('v_head.bias'));
  const g = GraphBuilder.from(lm.graph);
  const proj = g.input('proj', 'float64', [B, T]);
  g.output(g.reduceSum(g.mul(g.value('values'), proj), undefined, false), 'probe');
  const forward = g.build();
  const wrt = ['v_head.weight', 'v_head.bias', 'model.norm.weight', 'model.layers.0.self_attn.q_proj.weight', 'model.layers.1.mlp.up_proj.weight'];
  const gs = await ort.InferenceSession.create(toModelBytes(grad(forward, { loss: 'probe', wrt })), OPTS);
  const fs = await ort.InferenceSession.create(toModelBytes(forwardOnly(forward, ['probe'])), OPTS);
  const w = weights();
  const rand = gaussian(3);
  const projT = new ort.Tensor('float64', Float64Array.from({ length: B * T }, () => rand()), [B, T]);
  const feedsOf = (ws: typeof w) => ({ ...batch(), proj: projT, ...Object.fromEntries(Object.entries(ws).map(([k, v]) => [k, new ort.Tensor('float64', v.data, v.shape)])) });
  const analytic = await gs.run(feedsOf(w));
  const probeAt = async (name: string, i: number, delta: number) => {
    const data = w[name]!.data.slice();
    data[i]! += delta;
    return Number((await fs.run(feedsOf({ ...w, [name]: { shape: w[name]!.shape, data } })))['probe']!.data[0]);
  };
  const eps = 1e-5;
  let worst = 0;
  for (const name of wrt) {
    const a = analytic[`grad.${name}`]!.data as Float64Array;
    const n = w[name]!.data.length;
    // Every element of the head; a spread of elements of the backbone tensors (each costs two forwards).
    const idx = n <= 16 ? [...Array(n).keys()] : Array.from({ length: 12 }, (_, k) => Math.floor((k * n) / 12));
    let nonzero = 0;
    for (const i of idx) {
      const numeric = ((await probeAt(name, i, eps)) - (await probeAt(name, i, -eps))) / (2 * eps);
      const err = Math.abs(a[i]! - numeric) / (1 + Math.abs(numeric));
      worst = Math.max(worst, err);
      if (Math.abs(numeric) > 1e-9) nonzero++;
      assert.ok(err < 1e-6, `${name}[${i}]: analytic ${a[i]} vs numeric ${numeric}`);
    }
    assert.ok(nonzero > 0, `${name}: the values depend on it`);
  }
  await gs.release();
  await fs.release();
  assert.ok(worst < 1e-6);
});

test('value head: the LM outputs are the same with and without it, and values[t] ignores later tokens', async () => {
  const w = weights();
  const run = async (valueHead: boolean, b = batch()) => {
    const lm = buildCausalLm(config, { dtype: 'float64', valueHead });
    const s = await ort.InferenceSession.create(toModelBytes(lm.graph), OPTS);
    const feeds = { ...b, ...Object.fromEntries(lm.weights.map((k) => [k, new ort.Tensor('float64', w[k]!.data, w[k]!.shape)])) };
    const out = await s.run(feeds);
    await s.release();
    return out;
  };
  const plain = await run(false);
  const withHead = await run(true);
  assert.deepEqual(Array.from(withHead['token_logprobs']!.data as Float64Array), Array.from(plain['token_logprobs']!.data as Float64Array));
  const v = withHead['values']!.data as Float64Array;
  assert.deepEqual(withHead['values']!.dims, [B, T]);
  // Change the last token of row 1: values before it must not move (causal), the last one may.
  const b = batch();
  const ids = (b.input_ids.data as BigInt64Array).slice();
  ids[2 * T - 1] = 8n;
  const changed = (await run(true, { ...b, input_ids: new ort.Tensor('int64', ids, [B, T]) }))['values']!.data as Float64Array;
  for (let t = 0; t < T - 1; t++) assert.ok(Math.abs(changed[T + t]! - v[T + t]!) < 1e-12, `values[1, ${t}] moved`);
  assert.ok(Math.abs(changed[2 * T - 1]! - v[2 * T - 1]!) > 1e-9, 'the last value reads its own token');
});
