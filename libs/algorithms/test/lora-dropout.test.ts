// LoRA dropout in training (PEFT's lora_dropout): each adapted module gets its own mask input, drawn by the
// trainer from a stream keyed by (seed, step, micro-batch, module), so a resumed job repeats it. Checks the
// masks (values 0 or 1/(1 − p), kept fraction ≈ 1 − p, reproducible per key, different across keys), the
// graph wiring (a constant mask c equals the dropout-free graph with α·c), and that a LoRA SFT run with
// dropout is reproducible and differs from one without.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildCausalLm, initLora, loraDropoutInputs, type LoraSpec, type ModelConfig } from '@juice/models';
import { ParamSet } from '@juice/optim';
import { baseWeightFeeds, EvalStep, loraDropoutFeeds, runSft } from '../src/index.js';
import { configFromHf, parameterShapes } from '@juice/models';

const config: ModelConfig = configFromHf({ architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: 32, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 4, rms_norm_eps: 1e-6, rope_theta: 10000, max_position_embeddings: 32, tie_word_embeddings: false });
const spec: LoraSpec = { rank: 2, alpha: 4, dropout: 0.25, targetModules: ['q_proj', 'v_proj', 'down_proj'] };

function base(): ParamSet {
  const p = new ParamSet(parameterShapes(config));
  let s = 7;
  for (let i = 0; i < p.data.length; i++) p.data[i] = (((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5) * 0.6;
  for (const e of p.entries) if (e.name.endsWith('norm.weight')) p.view(e.name).fill(1);
  return p;
}

test('dropout masks: 0 or 1/(1 − p), kept ≈ 1 − p, one per module, reproducible per (seed, step, micro), different otherwise', () => {
  const rows = 64;
  const a = loraDropoutFeeds(config, spec, rows, { seed: 3, step: 5, micro: 0 });
  assert.deepEqual(Object.keys(a), loraDropoutInputs(config, spec).map((d) => d.name));
  let kept = 0;
  let n = 0;
  for (const f of Object.values(a)) {
    for (const v of f.data as Float32Array) {
      assert.ok(v === 0 || v === Math.fround(1 / 0.75), `mask value ${v}`);
      if (v) kept++;
      n++;
    }
  }
  assert.ok(Math.abs(kept / n - 0.75) < 0.02, `kept fraction ${kept / n}`);
  const same = loraDropoutFeeds(config, spec, rows, { seed: 3, step: 5, micro: 0 });
  for (const k of Object.keys(a)) assert.deepEqual(same[k]!.data, a[k]!.data);
  for (const other of [{ seed: 4, step: 5, micro: 0 }, { seed: 3, step: 6, micro: 0 }, { seed: 3, step: 5, micro: 1 }]) {
    const b = loraDropoutFeeds(config, spec, rows, other);
    const k = Object.keys(a)[0]!;
    assert.notDeepEqual(b[k]!.data, a[k]!.data, JSON.stringify(other));
  }
  const names = Object.keys(a);
  assert.notDeepEqual(a[names[0]!]!.data.slice(0, 16 * rows), a[names[1]!]!.data.slice(0, 16 * rows), 'modules draw their own masks');
  assert.deepEqual(loraDropoutFeeds(config, { ...spec, dropout: 0 }, rows, { seed: 3, step: 5, micro: 0 }), {});
});

test('graph wiring: a constant mask c gives the dropout-free model with α·c (the mask multiplies the adapter input)', async () => {
  const b = base();
  const adapters = initLora(config, spec, 9);
  for (const e of adapters.entries) if (e.name.includes('lora_B')) adapters.view(e.name).forEach((_, i, v) => (v[i] = 0.3 * Math.sin(i + 1)));
  const T = 5;
  const batch = { input_ids: { data: BigInt64Array.from({ length: 2 * T }, (_, i) => BigInt((i * 7 + 1) % 32)), dims: [2, T] }, attention_mask: { data: new BigInt64Array(2 * T).fill(1n), dims: [2, T] }, labels: { data: new BigInt64Array(2 * T).fill(-100n), dims: [2, T] } };
  const c = 1.7;
  const withMask = await EvalStep.create(buildCausalLm(config, { logits: true, lora: spec, loraGraph: { train: true, dropoutInputs: true } }).graph, adapters, ['logits']);
  const scaled = await EvalStep.create(buildCausalLm(config, { logits: true, lora: { ...spec, dropout: 0, alpha: spec.alpha * c } }).graph, adapters, ['logits']);
  const masks = Object.fromEntries(loraDropoutInputs(config, spec).map((d) => [d.name, { data: new Float32Array(2 * T * d.width).fill(c), dims: [2 * T, d.width], type: 'float32' as const }]));
  const x = (await withMask.run({ ...batch, ...baseWeightFeeds(b), ...masks })).logits!.data as Float32Array;
  const y = (await scaled.run({ ...batch, ...baseWeightFeeds(b) })).logits!.data as Float32Array;
  await withMask.release();
  await scaled.release();
  const diff = Math.max(...x.map((v, i) => Math.abs(v - y[i]!)));
  assert.ok(diff < 1e-5, `max |Δlogit| ${diff}`);
});

test('LoRA SFT with dropout: the same seed gives the same adapters, and they differ from a dropout-free run', async () => {
  const examples = Array.from({ length: 6 }, (_, i) => ({ promptIds: [1, 2 + i], responseIds: [3 + i, 4, 5 + (i % 3), 2], truncated: false }));
  const run = async (s: LoraSpec) => {
    const adapters = initLora(config, s, 1);
    await runSft({ config, params: adapters, lora: { spec: s, base: base() }, examples, padTokenId: 0, batchSize: 2, gradientAccumulationSteps: 2, maxSteps: 3, epochs: 1, learningRate: 1e-2, schedule: 'constant', warmupSteps: 0, seed: 5 });
    return adapters.data;
  };
  const a = await run(spec);
  const b = await run(spec);
  const none = await run({ ...spec, dropout: 0 });
  assert.deepEqual(b, a, 'reproducible');
  assert.notDeepEqual(none, a, 'dropout changes the run');
});
