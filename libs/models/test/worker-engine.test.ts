// The generation engine in a worker thread gives exactly the in-thread engine's results (including a
// stop decided by the caller mid-stream), while the caller's event loop keeps turning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toModelBytes } from '@juice/onnx';
import { BatchEngine, createSession, DEFAULT_SAMPLING, WorkerEngine, type Feeds } from '@juice/runtime';
import { buildGenerationGraphs, initParameters, type ModelConfig } from '../src/index.js';

const config: ModelConfig = {
  architecture: 'llama', vocabSize: 40, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 2,
  headDim: 8, rmsNormEps: 1e-6, ropeTheta: 10000, maxPositions: 64, tieWordEmbeddings: true, qkvBias: false,
};
const spec = { layers: config.numLayers, kvHeads: config.numKvHeads, headDim: config.headDim, vocabSize: config.vocabSize };

test('worker engine equals the in-thread engine, honours caller stops, and leaves the event loop free', async () => {
  const params = initParameters(config, 1, 0.5);
  const tensors = Object.fromEntries(params.entries.map((e) => [e.name, { data: params.view(e.name).slice(), dims: e.shape as number[] }]));
  const { prefill, decode } = buildGenerationGraphs(config);
  const worker = await WorkerEngine.create({ prefill: toModelBytes(prefill), decode: toModelBytes(decode), spec, engine: { maxBatch: 4, contextLength: 64 }, weights: { label: '0', tensors } });
  const local = new BatchEngine(await createSession(toModelBytes(prefill)), await createSession(toModelBytes(decode)), spec, { label: '0', feeds: tensors as Feeds }, { maxBatch: 4, contextLength: 64 });
  const sampling = { ...DEFAULT_SAMPLING, temperature: 1, topK: 10 };
  const reqs = Array.from({ length: 10 }, (_, i) => ({ promptIds: [1 + i, 2, 3 + (i % 4)], maxNewTokens: 12, eosTokenIds: [], sampling, seed: BigInt(i) }));
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const fromWorker = await Promise.all(reqs.map((r) => worker.submit(r)));
  clearInterval(timer);
  const fromLocal = await Promise.all(reqs.map((r) => local.submit(r)));
  assert.deepEqual(fromWorker.map((r) => r.tokens), fromLocal.map((r) => r.tokens));
  assert.ok(ticks > 0, 'the event loop ran while the worker generated');
  // A stop decided by the caller after the 5th token: exactly 5 tokens, finish "stop".
  let seen = 0;
  const stopped = await worker.submit({ ...reqs[0]!, onToken: () => ++seen === 5 });
  assert.equal(stopped.finish, 'stop');
  assert.deepEqual(stopped.tokens, fromLocal[0]!.tokens.slice(0, 5));
  await worker.close();
});
