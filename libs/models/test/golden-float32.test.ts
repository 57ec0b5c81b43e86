// The float32 training graph (onnxruntime contrib ops: fused RMSNorm and residual add, RotaryEmbedding,
// FusedMatMul; see layers.ts) against the same independent float64 PyTorch values as golden.test.ts,
// within float32 rounding (2e-5 relative to each tensor's scale). golden.test.ts checks the float64
// graph, which keeps the standard-op chains, to 1e-5.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { toModelBytes } from '@juice/onnx';
import { grad } from '@juice/autograd';
import { buildCausalLm, configFromHf } from '../src/index.js';
import { i64, trainingErrors, worstOf } from './golden-compare.js';

interface Case {
  name: string;
  config: Record<string, unknown>;
  input_ids: number[][];
  attention_mask: number[][];
  labels: number[][];
  weights: Record<string, { shape: number[]; data: number[] }>;
  kind?: 'reward';
  loss: number;
  token_logprobs: number[];
  logits: number[];
  grads: Record<string, number[]>;
}

const golden = JSON.parse(readFileSync(new URL('./golden/golden.json', import.meta.url), 'utf8')) as { cases: Case[] };


const cases = golden.cases.filter((x) => x.kind !== 'reward' && ['llama', 'mistral', 'qwen2'].includes(String(x.config.model_type)));

test('the golden cases include Llama-family models', () => assert.ok(cases.length > 0));

for (const c of cases) {
  test(`${c.name} (float32, fused ops): logits, loss, log-probs and every gradient match PyTorch float64 within 2e-5`, async (t) => {
    const config = configFromHf(c.config);
    const model = buildCausalLm(config, { dtype: 'float32', logits: true });
    const ops = new Set(model.graph.nodes.map((n) => n.opType));
    for (const op of ['SimplifiedLayerNormalization', 'SkipSimplifiedLayerNormalization', 'RotaryEmbedding', 'FusedMatMul']) assert.ok(ops.has(op), `graph uses ${op}`);
    const train = grad(model.graph, { loss: 'loss', wrt: model.weights, keepOutputs: ['token_logprobs', 'logits'] });
    const session = await ort.InferenceSession.create(toModelBytes(train), { graphOptimizationLevel: 'basic', intraOpNumThreads: 2 });
    const feeds: Record<string, ort.Tensor> = { input_ids: i64(c.input_ids), attention_mask: i64(c.attention_mask), labels: i64(c.labels) };
    for (const name of model.weights) feeds[name] = new ort.Tensor('float32', Float32Array.from(c.weights[name]!.data), c.weights[name]!.shape);
    const out = await session.run(feeds);
    await session.release();
    const errors = trainingErrors(out, c, model.weights);
    const worst = worstOf(errors);
    t.diagnostic(`worst ${worst[0]}: ${worst[1].toExponential(2)}`);
    assert.ok(worst[1] < 2e-5, `worst: ${worst[0]} relative error ${worst[1]}`);
  });
}
