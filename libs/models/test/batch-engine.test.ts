// Continuous batching on real model graphs: many concurrent requests joining and leaving a small batch
// produce exactly what each produces alone; a full queue is refused; a weight swap waits for the batch
// to drain so every request runs on one weight set; cancellation ends a row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toModelBytes } from '@juice/onnx';
import { BatchEngine, createSession, Decoder, DEFAULT_SAMPLING, QueueFullError, type Feeds } from '@juice/runtime';
import { buildGenerationGraphs, initParameters, type ModelConfig } from '../src/index.js';

const config: ModelConfig = {
  architecture: 'llama', vocabSize: 40, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 2,
  headDim: 8, rmsNormEps: 1e-6, ropeTheta: 10000, maxPositions: 64, tieWordEmbeddings: true, qkvBias: false,
};
const spec = { layers: config.numLayers, kvHeads: config.numKvHeads, headDim: config.headDim, vocabSize: config.vocabSize };
const weightsOf = (seed: number): Feeds => {
  const p = initParameters(config, seed, 0.5);
  return Object.fromEntries(p.entries.map((e) => [e.name, { data: p.view(e.name), dims: e.shape as number[] }]));
};
const greedy = { ...DEFAULT_SAMPLING, temperature: 0 };

async function sessions() {
  const { prefill, decode } = buildGenerationGraphs(config);
  return { prefill: await createSession(toModelBytes(prefill)), decode: await createSession(toModelBytes(decode)) };
}

test('30 concurrent requests through a batch of 4 equal their solo generations', async () => {
  const { prefill, decode } = await sessions();
  const w = weightsOf(1);
  const engine = new BatchEngine(prefill, decode, spec, { label: 'v0', feeds: w }, { maxBatch: 4, contextLength: 64 });
  const prompts = Array.from({ length: 30 }, (_, i) => Array.from({ length: 1 + (i % 7) }, (_, j) => (i * 5 + j * 3) % 39 + 1));
  const maxNew = (i: number) => 3 + (i % 11);
  const results = await Promise.all(prompts.map((p, i) => engine.submit({ promptIds: p, maxNewTokens: maxNew(i), eosTokenIds: [], sampling: greedy })));
  assert.ok(engine.steps < 30 * 13, `requests shared steps (${engine.steps} steps)`);
  const solo = new Decoder(prefill, decode, spec);
  for (const [i, p] of prompts.entries()) {
    const [ref] = await solo.generate([p], w, { maxNewTokens: maxNew(i), eosTokenIds: [], sampling: greedy });
    assert.deepEqual(results[i]!.tokens, ref!.tokens, `request ${i}`);
    assert.equal(results[i]!.finish, 'length');
  }
});

test('a full queue answers RESOURCE_EXHAUSTED; cancellation ends a row; weights swap between batches', async () => {
  const { prefill, decode } = await sessions();
  const engine = new BatchEngine(prefill, decode, spec, { label: 'v0', feeds: weightsOf(1) }, { maxBatch: 2, maxQueue: 3, contextLength: 64 });
  const long = { promptIds: [1, 2, 3], maxNewTokens: 40, eosTokenIds: [], sampling: greedy };
  const running: Promise<Awaited<ReturnType<typeof engine.submit>>>[] = [];
  while (engine.queueDepth < 3) running.push(engine.submit(long));
  await assert.rejects(engine.submit(long), (e: unknown) => e instanceof QueueFullError && e.grpcCode === 'RESOURCE_EXHAUSTED');
  while (engine.queueDepth >= 3) await new Promise((r) => setImmediate(r)); // room frees up as requests join
  const ac = new AbortController();
  const cancelled = engine.submit({ ...long, signal: ac.signal });
  ac.abort();
  assert.equal((await cancelled).finish, 'cancelled');
  // New weights: every request that arrived before the swap (running or still queued) runs on v0,
  // every later one on v1.
  engine.setWeights({ label: 'v1', feeds: weightsOf(2) });
  const after = engine.submit(long);
  const all = await Promise.all([...running, after]);
  assert.equal((await after).weights, 'v1');
  assert.ok(all.slice(0, -1).every((r) => r.weights === 'v0'), 'requests run on the weights current when they arrived');
  const v1 = await engine.submit(long);
  assert.deepEqual(v1.tokens, (await after).tokens, 'v1 outputs are consistent');
  assert.notDeepEqual(v1.tokens, all[0]!.tokens, 'and differ from v0');
});
