// What one request leaves in the batch engine's KV cache never reaches another: a reused cache row is
// zeroed past the new prompt, and a weight swap clears the cache, so a row's output equals that of a
// fresh engine even when an earlier row (same or previous weights) left NaN/±Inf keys and values there.
// (The decode graph masks cached slots with an additive bias; that cannot hide a non-finite value:
// the masked slot's softmax weight 0 times NaN/Inf is NaN.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toModelBytes } from '@juice/onnx';
import { BatchEngine, createSession, DEFAULT_SAMPLING, KvCache, type EngineRequest, type Feeds } from '@juice/runtime';
import { buildGenerationGraphs, initParameters, type ModelConfig } from '../src/index.js';

// Untied head: a NaN embedding row then poisons only the rows that read that token.
const config: ModelConfig = {
  architecture: 'llama', vocabSize: 40, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 2,
  headDim: 8, rmsNormEps: 1e-6, ropeTheta: 10000, maxPositions: 64, tieWordEmbeddings: false, qkvBias: false,
};
const spec = { layers: config.numLayers, kvHeads: config.numKvHeads, headDim: config.headDim, vocabSize: config.vocabSize };
const options = { maxBatch: 2, contextLength: 64 };

function weights(edit?: (name: string, data: Float32Array) => void): Feeds {
  const p = initParameters(config, 1, 0.5);
  return Object.fromEntries(p.entries.map((e) => {
    const data = p.view(e.name).slice();
    edit?.(e.name, data);
    return [e.name, { data, dims: e.shape as number[] }];
  }));
}
const greedy = (promptIds: number[], maxNewTokens: number): EngineRequest => ({ promptIds, maxNewTokens, eosTokenIds: [], sampling: { ...DEFAULT_SAMPLING, temperature: 0 } });
const decoded = (r: { tokens: number[]; logprobs: number[] }) => ({ tokens: r.tokens, logprobs: r.logprobs });

async function engineOn(feeds: Feeds, label = 'v0') {
  const { prefill, decode } = buildGenerationGraphs(config);
  return new BatchEngine(await createSession(toModelBytes(prefill)), await createSession(toModelBytes(decode)), spec, { label, feeds }, options);
}

test('after weights whose keys/values overflow, the next version decodes exactly like a fresh engine', async () => {
  // Finite weights whose keys and values are ±Inf/NaN in every layer.
  const hot = weights((name, d) => /self_attn\.(k|v)_proj\.weight$/.test(name) && d.forEach((_, i) => (d[i] = i % 2 ? -3e38 : 3e38)));
  const good = weights();
  const engine = await engineOn(hot);
  const poisoned = await engine.submit(greedy([1, 2, 3], 40));
  assert.ok(poisoned.logprobs.some((v) => !Number.isFinite(v)), 'the hot weights fill the cache with non-finite values');
  engine.setWeights({ label: 'v1', feeds: good });
  const after = await engine.submit(greedy([1, 2, 3], 20));
  assert.equal(after.weights, 'v1');
  const fresh = await (await engineOn(good)).submit(greedy([1, 2, 3], 20));
  assert.ok(fresh.logprobs.every(Number.isFinite));
  assert.deepEqual(decoded(after), decoded(fresh));
});

test('under one weight set, a row left non-finite by an earlier request does not reach the next one', async () => {
  // Token 39's embedding is NaN: a request reading it fills its cache row with NaN; others are clean.
  const w = weights((name, d) => name === 'model.embed_tokens.weight' && d.fill(NaN, 39 * config.hiddenSize, 40 * config.hiddenSize));
  const engine = await engineOn(w);
  const poisoned = await engine.submit(greedy([39, 5, 6], 30));
  assert.ok(poisoned.logprobs.every((v) => Number.isNaN(v)));
  const next = await engine.submit(greedy([1, 2, 3], 20));
  const fresh = await (await engineOn(w)).submit(greedy([1, 2, 3], 20));
  assert.ok(fresh.logprobs.every(Number.isFinite));
  assert.deepEqual(decoded(next), decoded(fresh));
});

test('KvCache: a reused row is zero past its new prompt, compaction keeps that, clear() empties the cache', () => {
  const shape = { layers: 1, kvHeads: 2, headDim: 2 };
  const cache = new KvCache(shape, 2, 8);
  const present = (T: number, v: number) => [{ key: new Float32Array(2 * T * 2).fill(v), value: new Float32Array(2 * T * 2).fill(v) }];
  const slots = (row: number) => {
    const f = cache.feeds(2);
    const k = f['past.0.key']!.data as Float32Array;
    return Array.from({ length: 2 }, (_, h) => Array.from(k.subarray((row * 2 + h) * 16, (row * 2 + h + 1) * 16)));
  };
  cache.writePrefill(present(6, NaN), 6, [0], [6]);
  cache.append([{ key: new Float32Array(4).fill(Infinity), value: new Float32Array(4).fill(Infinity) }], 1);
  cache.writePrefill(present(2, 1), 2, [0], [2]);
  for (const head of slots(0)) assert.deepEqual(head, [1, 1, 1, 1, ...new Array(12).fill(0)]);
  // Row 1 takes a stale row by compaction, then a shorter prompt.
  cache.writePrefill(present(7, NaN), 7, [1], [7]);
  cache.moveRow(1, 0);
  cache.writePrefill(present(3, 2), 3, [0], [3]);
  for (const head of slots(0)) assert.deepEqual(head, [2, 2, 2, 2, 2, 2, ...new Array(10).fill(0)]);
  cache.clear();
  assert.ok(cache.keys.every((k) => k.every((x) => x === 0)) && cache.values.every((v) => v.every((x) => x === 0)));
  assert.ok(cache.mask.every((m) => m === 0n));
  assert.deepEqual(cache.lengths, [0, 0]);
});
