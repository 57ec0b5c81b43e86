// The KV-cache decode loop (runtime Decoder) on real model graphs: greedy generation equals a reference
// that re-runs the whole sequence through the training forward for every token, for a batch of prompts
// of different lengths; seeded sampling reproduces; EOS ends a row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toModelBytes } from '@juice/onnx';
import { createSession, Decoder, DEFAULT_SAMPLING, type Feeds } from '@juice/runtime';
import { buildCausalLm, buildGenerationGraphs, initParameters, type ModelConfig } from '../src/index.js';

const config: ModelConfig = {
  architecture: 'llama', vocabSize: 50, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 2,
  headDim: 8, rmsNormEps: 1e-6, ropeTheta: 10000, maxPositions: 64, tieWordEmbeddings: true, qkvBias: false,
};
const params = initParameters(config, 11, 0.5);
const weights: Feeds = {};
for (const e of params.entries) weights[e.name] = { data: params.view(e.name), dims: e.shape as number[] };
const prompts = [[3, 17, 5], [9, 1, 44, 20, 8, 2], [30]];

async function fixtures() {
  const { prefill, decode } = buildGenerationGraphs(config);
  const decoder = new Decoder(await createSession(toModelBytes(prefill)), await createSession(toModelBytes(decode)), { layers: config.numLayers, kvHeads: config.numKvHeads, headDim: config.headDim, vocabSize: config.vocabSize });
  const full = await createSession(toModelBytes(buildCausalLm(config, { logits: true }).graph));
  return { decoder, full };
}

test('greedy KV-cache generation equals re-running the full sequence for every token', async () => {
  const { decoder, full } = await fixtures();
  const rows = await decoder.generate(prompts, weights, { maxNewTokens: 8, eosTokenIds: [], sampling: { ...DEFAULT_SAMPLING, temperature: 0 } });
  for (const [b, p] of prompts.entries()) {
    const seq = [...p];
    for (let i = 0; i < 8; i++) {
      const T = seq.length;
      const out = await full.run({ ...weights, input_ids: { data: BigInt64Array.from(seq.map(BigInt)), dims: [1, T] }, attention_mask: { data: new BigInt64Array(T).fill(1n), dims: [1, T] }, labels: { data: new BigInt64Array(T).fill(-100n), dims: [1, T] } });
      const logits = (out.logits!.data as Float32Array).subarray((T - 1) * config.vocabSize, T * config.vocabSize);
      let best = 0;
      for (let v = 1; v < config.vocabSize; v++) if (logits[v]! > logits[best]!) best = v;
      seq.push(best);
    }
    assert.deepEqual(rows[b]!.tokens, seq.slice(p.length), `prompt ${b}`);
    assert.equal(rows[b]!.finish, 'length');
  }
});

test('seeded sampling reproduces per row regardless of the batch; EOS ends a row early', async () => {
  const { decoder } = await fixtures();
  const sampling = { ...DEFAULT_SAMPLING, temperature: 1.0, topK: 20 };
  const a = await decoder.generate(prompts, weights, { maxNewTokens: 10, eosTokenIds: [], sampling, seeds: [1n, 2n, 3n] });
  const b = await decoder.generate(prompts, weights, { maxNewTokens: 10, eosTokenIds: [], sampling, seeds: [1n, 2n, 3n] });
  assert.deepEqual(a, b);
  const alone = await decoder.generate([prompts[1]!], weights, { maxNewTokens: 10, eosTokenIds: [], sampling, seeds: [2n] });
  assert.deepEqual(alone[0]!.tokens, a[1]!.tokens, 'a row does not depend on its batch mates');
  const eos = a[0]!.tokens[3]!;
  const stopped = await decoder.generate([prompts[0]!], weights, { maxNewTokens: 10, eosTokenIds: [eos], sampling, seeds: [1n] });
  assert.equal(stopped[0]!.finish, 'eos');
  assert.ok(stopped[0]!.tokens.length <= 4 && stopped[0]!.tokens.at(-1) === eos);
});
