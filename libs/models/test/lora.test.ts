// LoRA: adapters start as a no-op, training moves only them (the base is frozen in the graph), and the
// merged weights reproduce the adapted model's outputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toModelBytes } from '@juice/onnx';
import { grad } from '@juice/autograd';
import { AdamW } from '@juice/optim';
import { createSession, type Feeds } from '@juice/runtime';
import { buildCausalLm, initLora, initParameters, loraTargets, mergeLora, type LoraSpec, type ModelConfig } from '../src/index.js';

const config: ModelConfig = {
  architecture: 'llama', vocabSize: 20, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 2,
  headDim: 8, rmsNormEps: 1e-6, ropeTheta: 10000, maxPositions: 32, tieWordEmbeddings: false, qkvBias: false,
};
const spec: LoraSpec = { rank: 4, alpha: 8 };
const base = initParameters(config, 2, 0.3);
const B = 8, T = 9;
const batch = (): Feeds => {
  const ids = BigInt64Array.from({ length: B * T }, (_, i) => BigInt((i * 7 + Math.floor(i / T)) % 19 + 1));
  const labels = BigInt64Array.from({ length: B * T }, (_, i) => (i % T === T - 1 ? -100n : ids[i + 1]!));
  return { input_ids: { data: ids, dims: [B, T] }, attention_mask: { data: new BigInt64Array(B * T).fill(1n), dims: [B, T] }, labels: { data: labels, dims: [B, T] } };
};
const feedsOf = (p: { entries: readonly { name: string; shape: readonly number[] }[]; view(n: string): Float32Array }): Feeds =>
  Object.fromEntries(p.entries.map((e) => [e.name, { data: p.view(e.name), dims: e.shape as number[] }]));

test('PEFT names; adapters start as a no-op; training moves only the adapters; merged weights match', async () => {
  const targets = loraTargets(config, spec);
  assert.equal(targets.length, 8, 'q, k, v, o of two layers');
  assert.equal(targets[0]!.a, 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight');

  const plain = await createSession(toModelBytes(buildCausalLm(config, { logits: true }).graph));
  const lm = buildCausalLm(config, { lora: spec, frozenBase: base, logits: true });
  assert.deepEqual(lm.weights, lm.trainable, 'only adapters are inputs: the base is baked in');
  const adapters = initLora(config, spec, 3);
  const adapted = await createSession(toModelBytes(lm.graph));
  const ref = await plain.run({ ...feedsOf(base), ...batch() }, ['loss']);
  const start = await adapted.run({ ...feedsOf(adapters), ...batch() }, ['loss']);
  assert.ok(Math.abs(Number(ref.loss!.data[0]) - Number(start.loss!.data[0])) < 1e-6, 'B = 0: same loss as the base');

  const train = await createSession(toModelBytes(grad(lm.graph, { loss: 'loss', wrt: lm.trainable })));
  const opt = new AdamW(adapters, { lr: 1e-2, weightDecay: 0 });
  const g = adapters.gradBuffer();
  let first = 0, last = 0;
  for (let step = 0; step < 40; step++) {
    const out = await train.run({ ...feedsOf(adapters), ...batch() });
    for (const e of adapters.entries) adapters.set(e.name, out[`grad.${e.name}`]!.data as Float32Array, g);
    opt.step(g);
    if (step === 0) first = Number(out.loss!.data[0]);
    last = Number(out.loss!.data[0]);
  }
  assert.ok(last < first * 0.7, `adapter training lowers the loss: ${first} -> ${last}`);

  const merged = mergeLora(config, base, adapters, spec);
  const a = await adapted.run({ ...feedsOf(adapters), ...batch() }, ['logits']);
  const m = await plain.run({ ...feedsOf(merged), ...batch() }, ['logits']);
  const la = a.logits!.data as Float32Array;
  const lm2 = m.logits!.data as Float32Array;
  let err = 0;
  for (let i = 0; i < la.length; i++) err = Math.max(err, Math.abs(la[i]! - lm2[i]!));
  assert.ok(err < 1e-4, `merged logits match the adapted model (max diff ${err})`);
});
