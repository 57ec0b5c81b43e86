// juice's Llama-family graph against an independent float64 PyTorch implementation
// (golden/make_golden.py, values committed in golden/golden.json): logits, loss,
// per-token and per-sequence log-probs, and the gradient of every weight, within 1e-5 relative.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { toModelBytes } from '@juice/onnx';
import { grad } from '@juice/autograd';
import { GraphBuilder } from '@juice/onnx';
import { buildCausalLm, buildRewardModel, configFromHf } from '../src/index.js';
import { i64, relErr, trainingErrors, worstOf } from './golden-compare.js';

interface Case {
  name: string;
  config: Record<string, unknown>;
  input_ids: number[][];
  attention_mask: number[][];
  labels: number[][];
  weights: Record<string, { shape: number[]; data: number[] }>;
  kind?: 'reward';
  projection?: number[];
  rewards?: number[];
  loss: number;
  token_logprobs: number[];
  seq_logprobs: number[];
  logits: number[];
  grads: Record<string, number[]>;
}

const golden = JSON.parse(readFileSync(new URL('./golden/golden.json', import.meta.url), 'utf8')) as { cases: Case[] };


for (const c of golden.cases.filter((x) => x.kind !== 'reward')) {
  test(`${c.name}: logits, loss, log-probs and every gradient match PyTorch float64 within 1e-5`, async (t) => {
    const config = configFromHf(c.config);
    const model = buildCausalLm(config, { dtype: 'float64', logits: true });
    const train = grad(model.graph, { loss: 'loss', wrt: model.weights, keepOutputs: ['token_logprobs', 'seq_logprobs', 'logits'] });
    const session = await ort.InferenceSession.create(toModelBytes(train), { graphOptimizationLevel: 'basic' });
    const feeds: Record<string, ort.Tensor> = { input_ids: i64(c.input_ids), attention_mask: i64(c.attention_mask), labels: i64(c.labels) };
    assert.deepEqual(new Set(model.weights), new Set(Object.keys(c.weights)), 'HF tensor names agree');
    for (const name of model.weights) feeds[name] = new ort.Tensor('float64', Float64Array.from(c.weights[name]!.data), c.weights[name]!.shape);
    const out = await session.run(feeds);
    await session.release();
    const errors = trainingErrors(out, c, model.weights);
    assert.ok('seq_logprobs' in errors, 'seq_logprobs compared');
    const worst = worstOf(errors);
    t.diagnostic(`worst ${worst[0]}: ${worst[1].toExponential(2)}`);
    assert.ok(worst[1] < 1e-5, `worst: ${worst[0]} relative error ${worst[1]}`);
  });
}

for (const c of golden.cases.filter((x) => x.kind === 'reward')) {
  test(`${c.name}: rewards at the last real token and the gradients of every weight (score.weight included) match PyTorch`, async (t) => {
    const config = configFromHf(c.config);
    const rm = buildRewardModel(config, { dtype: 'float64' });
    const g = GraphBuilder.from(rm.graph);
    const proj = g.input('projection', 'float64', [c.projection!.length]);
    g.output(g.reduceSum(g.mul(g.value('rewards'), proj), undefined, false), 'loss');
    const train = grad(g.build(), { loss: 'loss', wrt: rm.weights, keepOutputs: ['rewards'] });
    const session = await ort.InferenceSession.create(toModelBytes(train), { graphOptimizationLevel: 'basic' });
    assert.deepEqual(new Set(rm.weights), new Set(Object.keys(c.weights)), 'HF sequence-classification tensor names');
    const feeds: Record<string, ort.Tensor> = { input_ids: i64(c.input_ids), attention_mask: i64(c.attention_mask), projection: new ort.Tensor('float64', Float64Array.from(c.projection!), [c.projection!.length]) };
    for (const name of rm.weights) feeds[name] = new ort.Tensor('float64', Float64Array.from(c.weights[name]!.data), c.weights[name]!.shape);
    const out = await session.run(feeds);
    await session.release();
    const errors: Record<string, number> = { rewards: relErr(out.rewards!.data as Float64Array, c.rewards!) };
    for (const name of rm.weights) errors[`grad ${name}`] = relErr(out[`grad.${name}`]!.data as Float64Array, c.grads[name]!);
    const worst = worstOf(errors);
    t.diagnostic(`worst ${worst[0]}: ${worst[1].toExponential(2)}`);
    assert.ok(worst[1] < 1e-5, `worst: ${worst[0]} relative error ${worst[1]}`);
  });
}
