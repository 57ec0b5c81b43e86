// The config.json keys attention_bias, mlp_bias, sliding_window (Qwen2: use_sliding_window,
// max_window_layers, layer_types) and head_dim against an independent float64 PyTorch implementation
// (golden/make_config_golden.py → golden/config_golden.json), per architecture × key:
// - the training graph: logits, loss, token/sequence log-probs and the gradient of every weight;
// - prefill + KV-cache decode: the logits of every step, on sequences longer than the window, with the
//   cache at slots that differ from the keys' positions (so the window must come from past_positions);
// - the reward graph for one case; the runtime Decoder and BatchEngine feeding a sliding-window decode graph;
// - configFromHf refusals and the configToHf round trip.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { GraphBuilder, toModelBytes, type Graph } from '@juice/onnx';
import { grad } from '@juice/autograd';
import { BatchEngine, createSession, Decoder, DEFAULT_SAMPLING, type Feeds } from '@juice/runtime';
import { buildCausalLm, buildGenerationGraphs, buildRewardModel, configFromHf, configToHf, parameterShapes, type ModelConfig } from '../src/index.js';
import { relErr, trainingErrors, worstOf } from './golden-compare.js';

interface Case {
  name: string;
  kind?: 'reward';
  config: Record<string, unknown>;
  input_ids: number[][];
  attention_mask: number[][];
  labels: number[][];
  weights: Record<string, { shape: number[]; data: number[] }>;
  projection?: number[];
  rewards?: number[];
  loss: number;
  token_logprobs: number[];
  seq_logprobs: number[];
  logits: number[];
  grads: Record<string, number[]>;
}

const golden = JSON.parse(readFileSync(new URL('./golden/config_golden.json', import.meta.url), 'utf8')) as { cases: Case[] };
const lmCases = golden.cases.filter((c) => c.kind !== 'reward');
const TOL = 1e-5;
const i64 = (data: number[], dims: number[]) => new ort.Tensor('int64', BigInt64Array.from(data.map(BigInt)), dims);
const open = (g: Graph) => ort.InferenceSession.create(toModelBytes(g), { graphOptimizationLevel: 'basic' });
const f64Weights = (c: Case, names: readonly string[]) =>
  Object.fromEntries(names.map((n) => [n, new ort.Tensor('float64', Float64Array.from(c.weights[n]!.data), c.weights[n]!.shape)]));


for (const c of lmCases) {
  test(`${c.name}: logits, loss, log-probs and every gradient match PyTorch float64`, async (t) => {
    const config = configFromHf(c.config);
    const model = buildCausalLm(config, { dtype: 'float64', logits: true });
    assert.deepEqual(new Set(model.weights), new Set(Object.keys(c.weights)), 'the HF tensor names and no others');
    for (const p of parameterShapes(config)) assert.deepEqual(p.shape, c.weights[p.name]!.shape, `shape of ${p.name}`);
    const train = grad(model.graph, { loss: 'loss', wrt: model.weights, keepOutputs: ['token_logprobs', 'seq_logprobs', 'logits'] });
    const session = await open(train);
    const [B, T] = [c.input_ids.length, c.input_ids[0]!.length];
    const out = await session.run({ ...f64Weights(c, model.weights), input_ids: i64(c.input_ids.flat(), [B, T]), attention_mask: i64(c.attention_mask.flat(), [B, T]), labels: i64(c.labels.flat(), [B, T]) });
    await session.release();
    const errors = trainingErrors(out, c, model.weights);
    assert.ok('seq_logprobs' in errors, 'seq_logprobs compared');
    const gradWorst = Math.max(0, ...model.weights.map((name) => errors[`grad ${name}`]!));
    const worst = worstOf(errors);
    t.diagnostic(`max rel: logits ${errors.logits!.toExponential(1)}, loss ${errors.loss!.toExponential(1)}, token_logprobs ${errors.token_logprobs!.toExponential(1)}, grads ${gradWorst.toExponential(1)}`);
    assert.ok(worst[1] < TOL, `worst: ${worst[0]} relative error ${worst[1]}`);
  });

  test(`${c.name}: prefill + KV-cache decode reproduce every step's logits past the window`, async (t) => {
    const config = configFromHf(c.config);
    const { prefill, decode, weights } = buildGenerationGraphs(config, 'float64');
    const pre = await open(prefill);
    const dec = await open(decode);
    const sliding = (config.slidingWindows ?? []).some((w) => w !== null);
    assert.equal(dec.inputNames.includes('past_positions'), sliding, 'past_positions is an input exactly when a layer slides');
    const W = f64Weights(c, weights);
    const V = config.vocabSize;
    const T = c.input_ids[0]!.length;
    // Each row's real tokens (the golden batch may pad on the left) and where its logits sit in the golden batch.
    const rows = c.attention_mask.map((m, b) => ({ ids: c.input_ids[b]!.filter((_, i) => m[i] === 1), first: m.indexOf(1) }));
    const expected = (b: number, pos: number) => c.logits.slice((b * T + rows[b]!.first + pos) * V, (b * T + rows[b]!.first + pos + 1) * V);
    const promptLens = [5, 2];
    const maxWindow = Math.max(0, ...(config.slidingWindows ?? []).map((w) => w ?? 0));
    assert.ok(!sliding || rows.every((r) => r.ids.length > maxWindow + 2), 'sequences run past the window');

    const Tp = Math.max(...promptLens);
    const ids: number[] = [];
    const mask: number[] = [];
    rows.forEach((r, b) => {
      for (let i = 0; i < Tp; i++) (ids.push(i < promptLens[b]! ? r.ids[i]! : 0), mask.push(i < promptLens[b]! ? 1 : 0));
    });
    const p = await pre.run({ ...W, input_ids: i64(ids, [2, Tp]), attention_mask: i64(mask, [2, Tp]) });
    let worst = 0;
    const check = (logits: Float64Array, b: number, pos: number) => (worst = Math.max(worst, relErr(logits.subarray(b * V, (b + 1) * V), expected(b, pos))));
    rows.forEach((_, b) => check(p.logits!.data as Float64Array, b, promptLens[b]! - 1));

    // The cache: row b's position t lives at slot offset[b] + t; slots outside hold garbage and are masked.
    const L = config.numLayers;
    const Hkv = config.numKvHeads;
    const d = config.headDim;
    const P = 14;
    const offset = [0, 3];
    const cache = Array.from({ length: L }, () => ({ k: new Float64Array(2 * Hkv * P * d).fill(55), v: new Float64Array(2 * Hkv * P * d).fill(-9) }));
    const put = (l: number, b: number, slot: number, key: Float64Array, value: Float64Array, src: (head: number) => number) => {
      for (let h = 0; h < Hkv; h++) {
        cache[l]!.k.set(key.subarray(src(h), src(h) + d), ((b * Hkv + h) * P + slot) * d);
        cache[l]!.v.set(value.subarray(src(h), src(h) + d), ((b * Hkv + h) * P + slot) * d);
      }
    };
    const len = [...promptLens];
    for (let l = 0; l < L; l++) {
      for (let b = 0; b < 2; b++) for (let s = 0; s < len[b]!; s++) put(l, b, offset[b]! + s, p[`present.${l}.key`]!.data as Float64Array, p[`present.${l}.value`]!.data as Float64Array, (h) => ((b * Hkv + h) * Tp + s) * d);
    }
    let steps = 0;
    while (rows.some((r, b) => len[b]! < r.ids.length)) {
      const tok = rows.map((r, b) => r.ids[Math.min(len[b]!, r.ids.length - 1)]!);
      const pastMask = [0, 1].flatMap((b) => Array.from({ length: P }, (_, s) => (s >= offset[b]! && s < offset[b]! + len[b]! ? 1 : 0)));
      const feeds: Record<string, ort.Tensor> = { ...W, input_ids: i64(tok, [2, 1]), position_ids: i64(len, [2, 1]), past_mask: i64(pastMask, [2, P]) };
      if (sliding) feeds.past_positions = i64([0, 1].flatMap((b) => Array.from({ length: P }, (_, s) => s - offset[b]!)), [2, P]);
      for (let l = 0; l < L; l++) {
        feeds[`past.${l}.key`] = new ort.Tensor('float64', cache[l]!.k, [2, Hkv, P, d]);
        feeds[`past.${l}.value`] = new ort.Tensor('float64', cache[l]!.v, [2, Hkv, P, d]);
      }
      const out = await dec.run(feeds);
      steps++;
      rows.forEach((r, b) => {
        if (len[b]! < r.ids.length) check(out.logits!.data as Float64Array, b, len[b]!);
      });
      for (let l = 0; l < L; l++) {
        for (let b = 0; b < 2; b++) if (len[b]! < rows[b]!.ids.length) put(l, b, offset[b]! + len[b]!, out[`new.${l}.key`]!.data as Float64Array, out[`new.${l}.value`]!.data as Float64Array, (h) => (b * Hkv + h) * d);
      }
      for (let b = 0; b < 2; b++) if (len[b]! < rows[b]!.ids.length) len[b]!++;
    }
    for (const s of [pre, dec]) await s.release();
    t.diagnostic(`prefill + ${steps} decode steps: max rel logits ${worst.toExponential(1)}`);
    assert.ok(worst < TOL, `decode logits relative error ${worst}`);
  });
}

for (const c of golden.cases.filter((x) => x.kind === 'reward')) {
  test(`${c.name}: rewards and every gradient match PyTorch float64`, async (t) => {
    const config = configFromHf(c.config);
    const rm = buildRewardModel(config, { dtype: 'float64' });
    assert.deepEqual(new Set(rm.weights), new Set(Object.keys(c.weights)));
    const g = GraphBuilder.from(rm.graph);
    const proj = g.input('projection', 'float64', [c.projection!.length]);
    g.output(g.reduceSum(g.mul(g.value('rewards'), proj), undefined, false), 'loss');
    const session = await open(grad(g.build(), { loss: 'loss', wrt: rm.weights, keepOutputs: ['rewards'] }));
    const [B, T] = [c.input_ids.length, c.input_ids[0]!.length];
    const out = await session.run({ ...f64Weights(c, rm.weights), input_ids: i64(c.input_ids.flat(), [B, T]), attention_mask: i64(c.attention_mask.flat(), [B, T]), projection: new ort.Tensor('float64', Float64Array.from(c.projection!), [B]) });
    await session.release();
    const errors: Record<string, number> = { rewards: relErr(out.rewards!.data as Float64Array, c.rewards!) };
    for (const name of rm.weights) errors[`grad ${name}`] = relErr(out[`grad.${name}`]!.data as Float64Array, c.grads[name]!);
    const worst = worstOf(errors);
    t.diagnostic(`max rel: rewards ${errors.rewards!.toExponential(1)}, worst ${worst[0]} ${worst[1].toExponential(1)}`);
    assert.ok(worst[1] < TOL, `worst: ${worst[0]} relative error ${worst[1]}`);
  });
}

test('the runtime Decoder and BatchEngine feed past_positions: greedy generation past the window equals re-running the full sequence', async () => {
  const c = lmCases.find((x) => x.name === 'mistral sliding_window')!;
  const config = configFromHf(c.config);
  const weights: Feeds = Object.fromEntries(Object.entries(c.weights).map(([n, w]) => [n, { data: Float32Array.from(w.data), dims: w.shape }]));
  const { prefill, decode } = buildGenerationGraphs(config);
  const spec = { layers: config.numLayers, kvHeads: config.numKvHeads, headDim: config.headDim, vocabSize: config.vocabSize };
  const [pre, dec] = [await createSession(toModelBytes(prefill)), await createSession(toModelBytes(decode))];
  const full = await createSession(toModelBytes(buildCausalLm(config, { logits: true }).graph));
  const greedy = { ...DEFAULT_SAMPLING, temperature: 0 };
  const prompts = [[3, 17, 5, 8, 1], [9, 30]];
  const maxNewTokens = 8;
  const reference = async (prompt: number[]) => {
    const seq = [...prompt];
    for (let i = 0; i < maxNewTokens; i++) {
      const T = seq.length;
      const out = await full.run({ ...weights, input_ids: { data: BigInt64Array.from(seq.map(BigInt)), dims: [1, T] }, attention_mask: { data: new BigInt64Array(T).fill(1n), dims: [1, T] }, labels: { data: new BigInt64Array(T).fill(-100n), dims: [1, T] } });
      const logits = (out.logits!.data as Float32Array).subarray((T - 1) * config.vocabSize, T * config.vocabSize);
      seq.push(logits.indexOf(Math.max(...logits)));
    }
    return seq.slice(prompt.length);
  };
  const expected = await Promise.all(prompts.map(reference));
  const rows = await new Decoder(pre, dec, spec).generate(prompts, weights, { maxNewTokens, eosTokenIds: [], sampling: greedy });
  assert.deepEqual(rows.map((r) => r.tokens), expected, 'Decoder');
  const engine = new BatchEngine(pre, dec, spec, { label: 'v0', feeds: weights }, { maxBatch: 2, contextLength: 32 });
  const results = await Promise.all(prompts.map((promptIds) => engine.submit({ promptIds, maxNewTokens, eosTokenIds: [], sampling: greedy })));
  assert.deepEqual(results.map((r) => r.tokens), expected, 'BatchEngine');
  // A window wider than every sequence would have generated something else: the window is in play.
  const wide = configFromHf({ ...c.config, sliding_window: 64 });
  const wideFull = await createSession(toModelBytes(buildCausalLm(wide, { logits: true }).graph));
  const seq = [...prompts[0]!, ...expected[0]!];
  const T = seq.length;
  const a = await full.run({ ...weights, input_ids: { data: BigInt64Array.from(seq.map(BigInt)), dims: [1, T] }, attention_mask: { data: new BigInt64Array(T).fill(1n), dims: [1, T] }, labels: { data: new BigInt64Array(T).fill(-100n), dims: [1, T] } });
  const b = await wideFull.run({ ...weights, input_ids: { data: BigInt64Array.from(seq.map(BigInt)), dims: [1, T] }, attention_mask: { data: new BigInt64Array(T).fill(1n), dims: [1, T] }, labels: { data: new BigInt64Array(T).fill(-100n), dims: [1, T] } });
  assert.ok(relErr(a.logits!.data as Float32Array, [...(b.logits!.data as Float32Array)]) > 1e-3, 'the sliding window changes the logits');
  for (const s of [pre, dec, full, wideFull]) await s.release();
});

const llama = { architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: 37, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2 };
const mistral = { ...llama, architectures: ['MistralForCausalLM'], model_type: 'mistral' };
const qwen2 = { ...llama, architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2' };
const refused = (json: Record<string, unknown>, key: string) =>
  assert.throws(() => configFromHf(json), (e: Error & { grpcCode?: string }) => e.grpcCode === 'INVALID_ARGUMENT' && e.message.includes(key), `refuses ${JSON.stringify(json)} naming ${key}`);

test('config keys transformers would not honour, or that are malformed, are refused naming the key', () => {
  refused({ ...mistral, attention_bias: true }, 'attention_bias');
  refused({ ...mistral, mlp_bias: true }, 'mlp_bias');
  refused({ ...qwen2, attention_bias: true }, 'attention_bias');
  refused({ ...qwen2, mlp_bias: true }, 'mlp_bias');
  refused({ ...llama, attention_bias: 'yes' }, 'attention_bias');
  refused({ ...mistral, sliding_window: 0 }, 'sliding_window');
  refused({ ...mistral, sliding_window: 2.5 }, 'sliding_window');
  refused({ ...mistral, layer_types: ['sliding_attention', 'full_attention'] }, 'layer_types');
  refused({ ...qwen2, use_sliding_window: false, layer_types: ['sliding_attention', 'full_attention'] }, 'layer_types');
  refused({ ...qwen2, use_sliding_window: true, layer_types: ['sliding_attention'] }, 'layer_types');
  refused({ ...qwen2, use_sliding_window: true, max_window_layers: -1 }, 'max_window_layers');
  refused({ ...llama, head_dim: 5 }, 'head_dim');
  refused({ ...llama, hidden_size: 18 }, 'head_dim');
  assert.equal(configFromHf({ ...mistral, attention_bias: false, mlp_bias: false }).qkvBias, false, 'false is what transformers does anyway');
  refused({ ...mistral, sliding_window: 4, layer_types: ['full_attention', 'full_attention'] }, 'layer_types');
  assert.equal(configFromHf({ ...mistral, sliding_window: null, layer_types: ['full_attention', 'full_attention'] }).slidingWindows, undefined, 'layer_types that agree with transformers');
});

test('window defaults follow transformers: Mistral 4096 when absent, none when null; Qwen2 slides only with use_sliding_window, from max_window_layers (28)', () => {
  assert.deepEqual(configFromHf(mistral).slidingWindows, [4096, 4096]);
  assert.equal(configFromHf({ ...mistral, sliding_window: null }).slidingWindows, undefined);
  assert.equal(configFromHf({ ...qwen2, sliding_window: 8 }).slidingWindows, undefined);
  assert.equal(configFromHf({ ...qwen2, use_sliding_window: true, sliding_window: 8 }).slidingWindows, undefined, '2 layers < max_window_layers 28');
  assert.deepEqual(configFromHf({ ...qwen2, use_sliding_window: true, max_window_layers: 1 }).slidingWindows, [null, 4096]);
  assert.equal(configFromHf({ ...llama, sliding_window: 4 }).slidingWindows, undefined, "LlamaAttention has no window");
});

test('configToHf writes back every key so configFromHf reads the same model (and transformers the same attention)', () => {
  for (const c of golden.cases) {
    const config = configFromHf(c.config);
    const again = configFromHf(configToHf(config));
    assert.deepEqual(again, config, c.name);
  }
  const mixed: ModelConfig = { ...configFromHf(qwen2), numLayers: 3, slidingWindows: [4, null, 4] };
  const hf = configToHf(mixed);
  assert.deepEqual(hf.layer_types, ['sliding_attention', 'full_attention', 'sliding_attention']);
  assert.equal(hf.max_window_layers, undefined, 'not expressible as max_window_layers');
  assert.deepEqual(configFromHf(hf).slidingWindows, [4, null, 4]);
  assert.equal(configToHf(configFromHf({ ...mistral, sliding_window: null })).sliding_window, null, 'null, not absent (absent means 4096)');
});
