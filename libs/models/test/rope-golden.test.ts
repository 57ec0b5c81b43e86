// rope_scaling (linear, dynamic, llama3, yarn) in every architecture against an independent float64
// PyTorch implementation of transformers' semantics (golden/make_rope_golden.py, values in
// golden/rope_golden.json): the training graph's logits, loss, log-probs and every gradient within
// 1e-5 relative, and KV-cache generation (prefill + one decode step per token) against the
// reference's per-step logits — for dynamic those differ from re-running the whole sequence, since
// cached keys keep the rotation of the length they were computed at. Also: the config refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { toModelBytes, type Graph } from '@juice/onnx';
import { grad } from '@juice/autograd';
import { buildCausalLm, buildGenerationGraphs, configFromHf, configToHf, ModelLoadError, parameterShapes, type ModelConfig } from '../src/index.js';
import { i64, relErr, trainingErrors, worstOf } from './golden-compare.js';

interface Case {
  name: string;
  config: Record<string, unknown>;
  input_ids: number[][];
  attention_mask: number[][];
  labels: number[][];
  loss: number;
  token_logprobs: number[];
  logits: number[];
  grads: Record<string, number[]>;
  generation: { ids: number[]; prompt: number; step_logits: number[][]; decode_vs_full: number };
}

const golden = JSON.parse(readFileSync(new URL('./golden/rope_golden.json', import.meta.url), 'utf8')) as { cases: Case[] };
const open = (g: Graph) => ort.InferenceSession.create(toModelBytes(g), { graphOptimizationLevel: 'basic' });

/** The generator's weights: Park-Miller uniforms seeded by the tensor name (exact in float64 arithmetic). */
function weight(name: string, shape: number[]): Float64Array {
  const MOD = 2147483647;
  let state = 1 + ([...name].reduce((s, ch, i) => s + (i + 1) * ch.charCodeAt(0), 0) % (MOD - 1));
  const out = new Float64Array(shape.reduce((a, b) => a * b, 1));
  const norm = name.includes('norm') && name.endsWith('.weight');
  for (let j = 0; j < out.length; j++) {
    state = (state * 16807) % MOD;
    const u = state / MOD;
    out[j] = norm ? 1 + 0.2 * (u - 0.5) : 0.6 * (u - 0.5) * (name.endsWith('.bias') ? 2 : 1);
  }
  return out;
}

function weightFeeds(c: ModelConfig, dtype: 'float32' | 'float64' = 'float64'): Record<string, ort.Tensor> {
  return Object.fromEntries(parameterShapes(c).map((p) => {
    const w = weight(p.name, p.shape);
    return [p.name, dtype === 'float64' ? new ort.Tensor('float64', w, p.shape) : new ort.Tensor('float32', Float32Array.from(w), p.shape)];
  }));
}


for (const c of golden.cases) {
  test(`${c.name}: logits, loss, log-probs and every gradient match PyTorch float64 within 1e-5`, async (t) => {
    const config = configFromHf(c.config);
    assert.ok(config.ropeScaling, 'rope_scaling parsed');
    const model = buildCausalLm(config, { dtype: 'float64', logits: true });
    const train = grad(model.graph, { loss: 'loss', wrt: model.weights, keepOutputs: ['token_logprobs', 'logits'] });
    const session = await open(train);
    const feeds: Record<string, ort.Tensor> = { ...weightFeeds(config), input_ids: i64(c.input_ids), attention_mask: i64(c.attention_mask), labels: i64(c.labels) };
    assert.deepEqual(new Set(model.weights), new Set(Object.keys(c.grads)), 'HF tensor names agree');
    const out = await session.run(feeds);
    await session.release();
    const errors = trainingErrors(out, c, model.weights);
    const worst = worstOf(errors);
    t.diagnostic(`worst ${worst[0]}: ${worst[1].toExponential(2)} (logits ${errors.logits!.toExponential(2)})`);
    assert.ok(worst[1] < 1e-5, `worst: ${worst[0]} relative error ${worst[1]}`);

    // The scaling is what makes these agree: plain RoPE is far off (so this test can fail).
    const plain = await open(buildCausalLm({ ...config, ropeScaling: undefined }, { dtype: 'float64', logits: true }).graph);
    const plainOut = await plain.run(feeds);
    await plain.release();
    assert.ok(relErr(plainOut.logits!.data as Float64Array, c.logits) > 1e-3, 'unscaled RoPE would not match');
  });

  test(`${c.name}: prefill + KV-cache decode steps match the reference's per-step logits`, async (t) => {
    const err = await generationError(c, 'float64');
    t.diagnostic(`${c.generation.step_logits.length} steps, worst relative error ${err.toExponential(2)}; reference decode vs full-sequence logits ${c.generation.decode_vs_full.toExponential(2)}`);
    assert.ok(err < 1e-5, `decode relative error ${err}`);
  });
}

// Serving runs float32 graphs: the in-graph dynamic frequencies and yarn's factor there too.
for (const c of golden.cases.filter((x) => x.name === 'llama-dynamic' || x.name === 'gpt_neox-dynamic' || x.name === 'qwen2-yarn')) {
  test(`${c.name}: float32 generation graphs match the reference within float32 precision`, async (t) => {
    const err = await generationError(c, 'float32');
    t.diagnostic(`worst relative error ${err.toExponential(2)}`);
    assert.ok(err < 1e-4, `float32 decode relative error ${err}`);
  });
}

/** Prefill of the case's prompt, then one decode step per remaining token; worst relative error of the per-step logits. */
async function generationError(c: Case, dtype: 'float32' | 'float64'): Promise<number> {
  const config = configFromHf(c.config);
  const weights = weightFeeds(config, dtype);
  const { prefill, decode } = buildGenerationGraphs(config, dtype);
  const [pre, dec] = await Promise.all([open(prefill), open(decode)]);
  const { ids, prompt, step_logits: expected } = c.generation;
  const got: ArrayLike<number>[] = [];
  const p = await pre.run({ ...weights, input_ids: i64([ids.slice(0, prompt)]), attention_mask: i64([ids.slice(0, prompt).map(() => 1)]) });
  got.push(p.logits!.data as Float64Array);
  const cache = Array.from({ length: config.numLayers }, (_, i) => ({ k: p[`present.${i}.key`]!, v: p[`present.${i}.value`]! }));
  for (let pos = prompt; pos < ids.length; pos++) {
    const feeds: Record<string, ort.Tensor> = { ...weights, input_ids: i64([[ids[pos]!]]), position_ids: i64([[pos]]), past_mask: i64([Array.from({ length: pos }, () => 1)]) };
    // Sliding-window models (Mistral's default window) also take each cached key's position.
    if (dec.inputNames.includes('past_positions')) feeds.past_positions = i64([Array.from({ length: pos }, (_, j) => j)]);
    cache.forEach((kv, i) => {
      feeds[`past.${i}.key`] = kv.k;
      feeds[`past.${i}.value`] = kv.v;
    });
    const out = await dec.run(feeds);
    got.push(out.logits!.data as Float64Array);
    cache.forEach((kv, i) => {
      kv.k = concatSeq(kv.k, out[`new.${i}.key`]!);
      kv.v = concatSeq(kv.v, out[`new.${i}.value`]!);
    });
  }
  await Promise.all([pre.release(), dec.release()]);
  assert.equal(got.length, expected.length);
  return Math.max(...got.map((g, s) => relErr(g, expected[s]!)));
}

/** Appends one position to a [1, H, P, d] cache tensor. */
function concatSeq(past: ort.Tensor, step: ort.Tensor): ort.Tensor {
  const [, H, P, d] = past.dims as number[];
  const a = past.data as Float64Array | Float32Array;
  const b = step.data as Float64Array | Float32Array;
  const out = a instanceof Float32Array ? new Float32Array(H! * (P! + 1) * d!) : new Float64Array(H! * (P! + 1) * d!);
  for (let h = 0; h < H!; h++) {
    out.set(a.subarray(h * P! * d!, (h + 1) * P! * d!), h * (P! + 1) * d!);
    out.set(b.subarray(h * d!, (h + 1) * d!), (h * (P! + 1) + P!) * d!);
  }
  return new ort.Tensor(past.type as 'float32' | 'float64', out, [1, H!, P! + 1, d!]);
}

test('dynamic rope_scaling: a row of a padded batch gets the tables it gets alone', async () => {
  const c = golden.cases.find((x) => x.name === 'llama-dynamic')!;
  const config = configFromHf(c.config);
  const session = await open(buildCausalLm(config, { dtype: 'float64', logits: true }).graph);
  const weights = weightFeeds(config);
  const V = config.vocabSize;
  const batch = await session.run({ ...weights, input_ids: i64(c.input_ids), attention_mask: i64(c.attention_mask), labels: i64(c.labels) });
  const T = c.input_ids[0]!.length;
  const len = c.attention_mask[1]!.reduce((a, b) => a + b, 0);
  const alone = await session.run({ ...weights, input_ids: i64([c.input_ids[1]!.slice(0, len)]), attention_mask: i64([c.attention_mask[1]!.slice(0, len)]), labels: i64([c.labels[1]!.slice(0, len)]) });
  await session.release();
  const row = (batch.logits!.data as Float64Array).subarray(T * V, T * V + len * V);
  assert.ok(relErr(row, [...(alone.logits!.data as Float64Array)]) < 1e-12);
});

const llama = { architectures: ['LlamaForCausalLM'], vocab_size: 11, hidden_size: 8, intermediate_size: 8, num_hidden_layers: 1, num_attention_heads: 2, max_position_embeddings: 16 };
function refused(json: Record<string, unknown>, mentions: string) {
  assert.throws(() => configFromHf(json), (e: unknown) => e instanceof ModelLoadError && e.grpcCode === 'INVALID_ARGUMENT' && e.message.includes(mentions), `refused naming ${mentions}`);
}

test('rope_scaling refusals name the key: unknown or unsupported types, unknown sub-keys, missing or bad values', () => {
  refused({ ...llama, rope_scaling: { rope_type: 'longrope', short_factor: [1, 1], long_factor: [1, 1] } }, '"longrope"');
  refused({ ...llama, rope_scaling: { type: 'ntk-by-parts', factor: 2 } }, '"ntk-by-parts"');
  refused({ ...llama, rope_scaling: { factor: 2 } }, 'rope_type');
  refused({ ...llama, rope_scaling: { type: 'linear', rope_type: 'dynamic', factor: 2 } }, '"type"');
  refused({ ...llama, rope_scaling: { rope_type: 'linear', factor: 2, beta_fast: 32 } }, '"beta_fast"');
  refused({ ...llama, rope_scaling: { rope_type: 'default', factor: 2 } }, '"factor"');
  refused({ ...llama, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, original_max_position_embeddings: 8 } }, '"high_freq_factor"');
  refused({ ...llama, rope_scaling: { rope_type: 'linear', factor: 0 } }, '"factor"');
  refused({ ...llama, rope_scaling: { rope_type: 'linear', factor: '2' } }, '"factor"');
  refused({ ...llama, rope_scaling: { rope_type: 'yarn', factor: 4, truncate: 'no' } }, '"truncate"');
  refused({ ...llama, rope_scaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 4.5 } }, '"original_max_position_embeddings"');
  refused({ ...llama, rope_scaling: 'linear' }, '"rope_scaling"');
  refused({ ...llama, partial_rotary_factor: 0.5 }, '"partial_rotary_factor"');
  // transformers' dynamic NTK divides by rotary_dim − 2: Pythia-style rotary_pct 0.25 of a 8-wide head.
  refused({ architectures: ['GPTNeoXForCausalLM'], vocab_size: 11, hidden_size: 16, intermediate_size: 8, num_hidden_layers: 1, num_attention_heads: 2, rotary_pct: 0.25, rope_scaling: { type: 'dynamic', factor: 2 } }, '"dynamic"');
});

test('rope_scaling: null and rope_type "default" are plain RoPE; every golden config round-trips through configToHf', () => {
  assert.equal(configFromHf({ ...llama, rope_scaling: null }).ropeScaling, undefined);
  assert.equal(configFromHf({ ...llama, rope_scaling: { rope_type: 'default' } }).ropeScaling, undefined);
  for (const c of golden.cases) {
    const config = configFromHf(c.config);
    const hf = configToHf(config);
    assert.deepEqual(configFromHf(hf).ropeScaling, config.ropeScaling, c.name);
    const given = { ...(c.config.rope_scaling as Record<string, unknown>) };
    const type = given.rope_type ?? given.type;
    delete given.type;
    assert.deepEqual(hf.rope_scaling, { ...given, rope_type: type }, `${c.name}: the keys written back are the keys read`);
  }
});
