// LoRA with PEFT semantics: target_modules matching, rsLoRA scaling, dropout only in training graphs,
// the lora_enabled switch (the reference = the base, same session), reward models training the score head,
// and no weight gradient for frozen base weights.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toModelBytes } from '@juice/onnx';
import { grad } from '@juice/autograd';
import { createSession, type Feeds } from '@juice/runtime';
import {
  buildCausalLm, buildRewardModel, initLora, initParameters, loraScaling, loraTargets, mergeLora, rewardParameterShapes, LORA_ENABLED_INPUT, LoraSpecError,
  type LoraSpec, type ModelConfig,
} from '../src/index.js';
import { ParamSet } from '@juice/optim';

const llama: ModelConfig = {
  architecture: 'llama', vocabSize: 20, hiddenSize: 16, intermediateSize: 24, numLayers: 2, numHeads: 4, numKvHeads: 2,
  headDim: 4, rmsNormEps: 1e-6, ropeTheta: 10000, maxPositions: 32, tieWordEmbeddings: false, qkvBias: false,
};
const neox: ModelConfig = { ...llama, architecture: 'gpt_neox', numKvHeads: 4, qkvBias: true, tieWordEmbeddings: false, rotaryPct: 0.25, parallelResidual: true, layerNormEps: 1e-5, hiddenAct: 'gelu' } as ModelConfig;
const B = 2, T = 5;
const batch = (): Feeds => {
  const ids = BigInt64Array.from({ length: B * T }, (_, i) => BigInt((i * 7 + 3) % 19 + 1));
  const labels = BigInt64Array.from({ length: B * T }, (_, i) => (i % T === T - 1 ? -100n : ids[i + 1]!));
  return { input_ids: { data: ids, dims: [B, T] }, attention_mask: { data: new BigInt64Array(B * T).fill(1n), dims: [B, T] }, labels: { data: labels, dims: [B, T] } };
};
const feedsOf = (p: ParamSet): Feeds => Object.fromEntries(p.entries.map((e) => [e.name, { data: p.view(e.name), dims: e.shape as number[] }]));
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!)); return m; };
/** Adapters with B ≠ 0, so the branch is visible. */
function liveAdapters(c: ModelConfig, spec: LoraSpec): ParamSet {
  const p = initLora(c, spec, 1);
  for (const e of p.entries) if (e.name.includes('lora_B')) { const v = p.view(e.name); for (let i = 0; i < v.length; i++) v[i] = Math.sin(i + 1) * 0.2; }
  return p;
}

test('target_modules match as in PEFT (full name or "." + name); unknown names and the head are refused', () => {
  const mods = (c: ModelConfig, t: string[]) => loraTargets(c, { rank: 2, alpha: 4, targetModules: t }).map((x) => x.module.split('.').slice(-2).join('.'));
  assert.deepEqual(mods(llama, ['q_proj', 'v_proj']).slice(0, 2), ['self_attn.q_proj', 'self_attn.v_proj']);
  assert.equal(loraTargets(llama, { rank: 2, alpha: 4, targetModules: ['all-linear'] }).length, 14, '7 Linear per layer, not the head');
  assert.equal(loraTargets(llama, { rank: 2, alpha: 4, targetModules: ['gate_proj', 'up_proj', 'down_proj'] }).length, 6);
  // "dense" is attention.dense only: mlp.dense_h_to_4h does not end with ".dense"
  assert.deepEqual(mods(neox, ['dense']), ['attention.dense', 'attention.dense']);
  assert.equal(loraTargets(neox, { rank: 2, alpha: 4, targetModules: ['query_key_value', 'dense', 'dense_h_to_4h', 'dense_4h_to_h'] }).length, 8);
  assert.throws(() => loraTargets(llama, { rank: 2, alpha: 4, targetModules: ['proj'] }), (e: unknown) => e instanceof LoraSpecError && /target_modules.*"proj"/.test(e.message));
  assert.throws(() => loraTargets(llama, { rank: 2, alpha: 4, targetModules: ['lm_head'] }), /output head/);
  assert.throws(() => loraTargets(llama, { rank: 0, alpha: 4 }), /lora.rank/);
  assert.throws(() => loraTargets(llama, { rank: 2, alpha: 4, dropout: 1 }), /lora.dropout/);
  assert.equal(loraScaling({ rank: 16, alpha: 32 }), 2);
  assert.equal(loraScaling({ rank: 16, alpha: 32, useRslora: true }), 8);
});

for (const [name, c] of [['llama', llama], ['gpt_neox', neox]] as const) {
  test(`${name}: adapted graph = merged weights (α/r and rsLoRA); lora_enabled 0 = the base`, async () => {
    const base = initParameters(c, 2, 0.3);
    const plain = await createSession(toModelBytes(buildCausalLm(c, { logits: true }).graph));
    for (const spec of [{ rank: 3, alpha: 5, targetModules: ['all-linear'] }, { rank: 4, alpha: 2, useRslora: true }] as LoraSpec[]) {
      const ad = liveAdapters(c, spec);
      const lm = buildCausalLm(c, { lora: spec, loraGraph: { switchable: true }, logits: true });
      assert.deepEqual(lm.trainable, loraTargets(c, spec).flatMap((t) => [t.a, t.b]));
      const s = await createSession(toModelBytes(lm.graph));
      const on = (await s.run({ ...feedsOf(base), ...feedsOf(ad), ...batch(), [LORA_ENABLED_INPUT]: { data: Float32Array.of(1), dims: [] } }, ['logits'])).logits!.data as Float32Array;
      const off = (await s.run({ ...feedsOf(base), ...feedsOf(ad), ...batch(), [LORA_ENABLED_INPUT]: { data: Float32Array.of(0), dims: [] } }, ['logits'])).logits!.data as Float32Array;
      const merged = (await plain.run({ ...feedsOf(mergeLora(c, base, ad, spec)), ...batch() }, ['logits'])).logits!.data as Float32Array;
      const baseLogits = (await plain.run({ ...feedsOf(base), ...batch() }, ['logits'])).logits!.data as Float32Array;
      assert.ok(maxDiff(on, merged) < 2e-5, `adapted vs merged ${maxDiff(on, merged)}`);
      assert.ok(maxDiff(on, baseLogits) > 1e-3, 'the adapters change the output');
      assert.equal(maxDiff(off, baseLogits) < 1e-6, true, `disabled = base ${maxDiff(off, baseLogits)}`);
    }
  });
}

test('frozen base weights get no gradient node: the train graph has no [out, in] weight product', () => {
  const spec: LoraSpec = { rank: 2, alpha: 4, targetModules: ['all-linear'] };
  const lm = buildCausalLm(llama, { lora: spec });
  const full = grad(buildCausalLm(llama).graph, { loss: 'loss', wrt: buildCausalLm(llama).trainable });
  const lora = grad(lm.graph, { loss: 'loss', wrt: lm.trainable });
  assert.ok(!lm.trainable.some((n) => !n.includes('lora_')));
  assert.ok(!lora.outputs.some((o) => o.startsWith('grad.model.')), 'only adapter gradients are outputs');
  // Gemm/MatMul nodes: the full graph adds a weight-gradient product per Linear; LoRA only thin ones.
  const products = (g: typeof full) => g.nodes.filter((n) => n.opType === 'Gemm' || n.opType === 'MatMul').length;
  const fwd = (g: typeof full) => g.nodes.filter((n) => n.opType === 'Gemm').length;
  assert.ok(products(full) - fwd(buildCausalLm(llama).graph) >= 2 * 14, 'full: dX and dW per Linear');
  // Every Gemm/MatMul in the LoRA backward whose output is [out, in] of a base weight would be a dW; none exist.
  const baseShapes = new Set(initParameters(llama, 0).entries.filter((e) => e.shape.length === 2).map((e) => e.shape.join('x')));
  const dW = lora.nodes.filter((n) => (n.opType === 'Gemm' || n.opType === 'MatMul') && n.name.includes('grad') && baseShapes.has((lora.values.get(n.outputs[0]!)?.shape ?? []).join('x')));
  assert.equal(dW.length, 0, `no weight-gradient products: ${dW.map((n) => n.name).join(', ')}`);
});

test('dropout only in training graphs: same expectation, random per run; inference graph unaffected', async () => {
  const spec: LoraSpec = { rank: 4, alpha: 8, dropout: 0.5 };
  const base = initParameters(llama, 2, 0.3);
  const ad = liveAdapters(llama, spec);
  const evalS = await createSession(toModelBytes(buildCausalLm(llama, { lora: spec, logits: true }).graph));
  const trainS = await createSession(toModelBytes(buildCausalLm(llama, { lora: spec, loraGraph: { train: true }, logits: true }).graph));
  const f = { ...feedsOf(base), ...feedsOf(ad), ...batch() };
  const e1 = (await evalS.run(f, ['logits'])).logits!.data as Float32Array;
  const e2 = (await evalS.run(f, ['logits'])).logits!.data as Float32Array;
  assert.equal(maxDiff(e1, e2), 0);
  const t1 = (await trainS.run(f, ['logits'])).logits!.data as Float32Array;
  const t2 = (await trainS.run(f, ['logits'])).logits!.data as Float32Array;
  assert.ok(maxDiff(t1, t2) > 1e-4, 'a fresh dropout mask per run');
  assert.ok(maxDiff(t1, e1) > 1e-4);
  // Gradient through dropout exists (the mask path is not differentiated).
  grad(buildCausalLm(llama, { lora: spec, loraGraph: { train: true } }).graph, { loss: 'loss', wrt: initLora(llama, spec).entries.map((e) => e.name) });
});

test('reward model: adapters and the score head train; the rest is frozen', async () => {
  const spec: LoraSpec = { rank: 2, alpha: 2 };
  const rm = buildRewardModel(llama, { lora: spec });
  assert.ok(rm.trainable.includes('score.weight'));
  assert.equal(rm.trainable.filter((n) => !n.includes('lora_')).length, 1);
  const frozen = new ParamSet(rewardParameterShapes(llama));
  const baked = buildRewardModel(llama, { lora: spec, frozenBase: frozen });
  assert.deepEqual(baked.weights.filter((n) => !n.includes('lora_')), ['score.weight'], 'the score head stays an input when the base is baked');
  const s = await createSession(toModelBytes(baked.graph));
  const ad = initLora(llama, spec, 1);
  const out = await s.run({ ...feedsOf(ad), 'score.weight': { data: new Float32Array(llama.hiddenSize).fill(0.1), dims: [1, llama.hiddenSize] }, input_ids: batch().input_ids!, attention_mask: batch().attention_mask! }, ['rewards']);
  assert.equal(out.rewards!.data.length, B);
});
