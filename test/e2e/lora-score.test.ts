// Adapters in scoring, over real gRPC: ScoreCompletions (and Generate's prompt_logprobs) with a pushed
// adapter equal a generator serving the merged model; an unknown adapter is NOT_FOUND naming it. The
// reward model takes an adapter-only push (push bytes = adapter bytes, score head optional as PEFT's
// modules_to_save) and its Score / Compare equal a reward model serving the merged weights; a FULL push
// afterwards serves the base alone again.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { writeSafetensors } from '@juice/checkpoint';
import { createDefaultModel, gaussian, initLora, loadModel, mergeLora, rewardParameterShapes, type LoraSpec } from '@juice/models';
import { ParamSet } from '@juice/optim';
import { GeneratorService, LoraConfigSchema, RewardModelService, type WeightChunk } from '@juice/proto';
import { createClient, ServiceError, status } from '@juice/service-kit';
import { weightChunks } from '@juice/weight-sync';
import { startRole, type RunningRole } from '../support/spawn-service.js';

const root = mkdtempSync(join(tmpdir(), 'juice-lora-score-'));
const corpus = Array.from({ length: 200 }, (_, i) => `What is ${i}+${i % 9}? ${i}+${i % 9}=${i + (i % 9)}`);
const baseDir = join(root, 'base');
createDefaultModel(baseDir, { corpus, seed: 5 });
const base = loadModel(baseDir);

const spec: LoraSpec = { rank: 4, alpha: 8, targetModules: ['all-linear'], useRslora: true };
/** Adapters with B ≠ 0 (PEFT starts at 0), large enough to move scores well past the tolerance. */
function adapter(seed: number): ParamSet {
  const p = initLora(base.config, spec, seed);
  for (const e of p.entries) if (e.name.includes('lora_B')) p.view(e.name).forEach((_, k, v) => (v[k] = 0.3 * Math.sin(5 * k + seed)));
  return p;
}
const lmAdapter = adapter(1);
const mergedDir = join(root, 'merged');
createDefaultModel(mergedDir, { corpus, seed: 5 });
const merged = mergeLora(base.config, base.params, lmAdapter, spec);
writeSafetensors(join(mergedDir, 'model.safetensors'), merged.entries.map((e) => [e.name, { dtype: 'F32', shape: e.shape, data: merged.view(e.name) }]));

// The reward model: the LM backbone with a known score head (pushed in full as version 1), a LoRA
// adapter with its own trained head, and the merged reward weights the adapter must reproduce.
const rewardBase = new ParamSet(rewardParameterShapes(base.config));
for (const e of rewardBase.entries) if (base.params.has(e.name)) rewardBase.set(e.name, base.params.view(e.name));
const rand = gaussian(11);
rewardBase.view('score.weight').forEach((_, i, a) => (a[i] = rand()));
const rmAdapter = adapter(2);
const trainedHead = Float32Array.from(rewardBase.view('score.weight'), (v, i) => v + 0.5 * Math.cos(i));
const mergedReward = mergeLora(base.config, rewardBase, rmAdapter, spec);
mergedReward.set('score.weight', trainedHead);
const mergedRewardBaseHead = mergeLora(base.config, rewardBase, rmAdapter, spec);

type Gen = ReturnType<typeof createClient<typeof GeneratorService>>;
type Rm = ReturnType<typeof createClient<typeof RewardModelService>>;
let roles: RunningRole[] = [];
let gen: Gen;
let genMerged: Gen;
let rm: Rm;
let rmMerged: Rm;

before(async () => {
  roles = await Promise.all([
    startRole('generator', ['--model', baseDir, '--max-batch', '4', '--max-adapters', '2']),
    startRole('generator', ['--model', mergedDir, '--max-batch', '4']),
    startRole('reward-model', ['--model', baseDir]),
    startRole('reward-model', ['--model', baseDir]),
  ]);
  gen = createClient(GeneratorService, roles[0]!.address);
  genMerged = createClient(GeneratorService, roles[1]!.address);
  rm = createClient(RewardModelService, roles[2]!.address);
  rmMerged = createClient(RewardModelService, roles[3]!.address);
});
after(async () => {
  for (const c of [gen, genMerged, rm, rmMerged]) c?.close();
  await Promise.all(roles.map((r) => r.stop()));
});

function push(tensors: Map<string, Float32Array>, shapes: Map<string, readonly number[]>, version: bigint, lora?: { name: string }): { chunks: AsyncIterable<WeightChunk>; bytes: number } {
  const named = new Map([...tensors].map(([n, data]) => [n, { shape: shapes.get(n)!, data }]));
  const chunks = [...weightChunks(named, { version, chunkBytes: 8192 })];
  if (lora) Object.assign(chunks[0]!.header!, { loraAdapterOnly: true, adapterName: lora.name, lora: create(LoraConfigSchema, { rank: spec.rank, alpha: spec.alpha, targetModules: [...spec.targetModules!], useRslora: !!spec.useRslora }) });
  return { chunks: (async function* () { yield* chunks; })(), bytes: [...tensors.values()].reduce((a, t) => a + t.byteLength, 0) };
}
const tensorsOf = (p: ParamSet) => new Map(p.entries.map((e) => [e.name, p.view(e.name)]));
const shapesOf = (p: ParamSet) => new Map(p.entries.map((e) => [e.name, e.shape]));

const text = (value: string) => ({ kind: { case: 'text' as const, value } });
const items = [
  { prompt: text('What is 3+4?'), completion: text(' 3+4=7') },
  { prompt: text('What is 12+5?'), completion: text(' 12+5=17') },
  { prompt: text('What is 40+2? '), completion: text('40+2=42 and more words to score') },
];

const close = (a: number, b: number, tol: number) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

test('ScoreCompletions and prompt_logprobs with an adapter equal the merged model; unknown adapter → NOT_FOUND', async (t) => {
  const p = push(tensorsOf(lmAdapter), shapesOf(lmAdapter), 1n, { name: 'math' });
  assert.equal(Number((await gen.pushWeights(p.chunks)).bytes), p.bytes, 'push bytes = adapter bytes');

  const [withAdapter, onMerged, onBase] = await Promise.all([
    gen.scoreCompletions({ items, adapter: 'math', tokenLogprobs: true }),
    genMerged.scoreCompletions({ items, tokenLogprobs: true }),
    gen.scoreCompletions({ items, tokenLogprobs: true }),
  ]);
  let worst = 0;
  for (const [i, r] of withAdapter.results.entries()) {
    const m = onMerged.results[i]!;
    assert.deepEqual(r.tokenIds, m.tokenIds);
    assert.equal(r.isGreedy, m.isGreedy);
    r.tokenLogprobs.forEach((l, k) => (worst = Math.max(worst, Math.abs(l - m.tokenLogprobs[k]!))));
    assert.ok(close(r.logprob, m.logprob, 1e-5), `item ${i}: adapter ${r.logprob} vs merged ${m.logprob}`);
    assert.ok(Math.abs(r.logprob - onBase.results[i]!.logprob) > 1e-2, `item ${i}: the adapter changes the score (${r.logprob} vs base ${onBase.results[i]!.logprob})`);
  }
  assert.ok(worst <= 1e-5, `worst per-token difference ${worst}`);
  t.diagnostic(`ScoreCompletions adapter vs merged: worst per-token |Δ logprob| ${worst.toExponential(2)}`);
  assert.equal(withAdapter.weightVersion?.number, 1n, 'scored by the adapter push version');

  // Generate's prompt_logprobs run through the same scorer with the adapter's columns.
  const g = (c: Gen, adapter: string) => c.generate({ prompts: [text('What is 12+5?')], adapter, sampling: { temperature: 0, maxNewTokens: 1, promptLogprobs: true } });
  const [pa, pm] = await Promise.all([g(gen, 'math'), g(genMerged, '')]);
  pa.results[0]!.promptLogprobs.forEach((l, k) => assert.ok(Math.abs(l - pm.results[0]!.promptLogprobs[k]!) <= 1e-5, `prompt token ${k}: ${l} vs ${pm.results[0]!.promptLogprobs[k]}`));

  await assert.rejects(gen.scoreCompletions({ items, adapter: 'poet' }), (e: unknown) => e instanceof ServiceError && e.code === status.NOT_FOUND && /poet/.test(e.message) && /math/.test(e.message));
  await assert.rejects(genMerged.scoreCompletions({ items, adapter: 'math' }), (e: unknown) => e instanceof ServiceError && e.code === status.NOT_FOUND && /--max-adapters/.test(e.message));
  await gen.removeAdapter({ name: 'math' });
  await assert.rejects(gen.scoreCompletions({ items, adapter: 'math' }), (e: unknown) => e instanceof ServiceError && e.code === status.NOT_FOUND);
  const after = await gen.scoreCompletions({ items, tokenLogprobs: true });
  after.results.forEach((r, i) => assert.equal(r.logprob, onBase.results[i]!.logprob, 'the base scores are untouched by adapters coming and going'));
});

const pairs = [
  { prompt: text('What is 2+1?'), response: text(' 3') },
  { prompt: text('What is 2+1?'), response: text(' 9') },
  { prompt: text('What is 30+3?'), response: text(' 30+3=33') },
];
const rewardsOf = async (c: Rm) => (await c.score({ items: pairs })).results.map((r) => r.reward);

test('reward model: adapter push bytes = adapter bytes; Score and Compare equal the merged reward model', async (t) => {
  await rm.pushWeights(push(tensorsOf(rewardBase), shapesOf(rewardBase), 1n).chunks);
  const baseRewards = await rewardsOf(rm);

  // Adapter + trained head (modules_to_save), under the PEFT names adapter_model.safetensors uses.
  const withHead = tensorsOf(rmAdapter);
  withHead.set('base_model.model.score.weight', trainedHead);
  const shapes = shapesOf(rmAdapter).set('base_model.model.score.weight', [1, base.config.hiddenSize]);
  const p = push(withHead, shapes, 2n, { name: '' });
  const res = await rm.pushWeights(p.chunks);
  assert.equal(Number(res.bytes), p.bytes, 'push bytes = adapter + head bytes');
  assert.ok(p.bytes < (rewardBase.numParams * 4) / 2, "well below the base");
  await rmMerged.pushWeights(push(tensorsOf(mergedReward), shapesOf(mergedReward), 1n).chunks);
  const [got, want] = [await rm.score({ items: pairs }), await rewardsOf(rmMerged)];
  assert.equal(got.weightVersion?.number, 2n);
  got.results.forEach((r, i) => {
    assert.ok(close(r.reward, want[i]!, 1e-5), `item ${i}: adapter ${r.reward} vs merged ${want[i]}`);
    assert.ok(Math.abs(r.reward - baseRewards[i]!) > 1e-2, `item ${i}: the adapter changes the reward`);
  });
  t.diagnostic(`Score adapter vs merged: worst |Δ reward| ${Math.max(...got.results.map((r, i) => Math.abs(r.reward - want[i]!))).toExponential(2)} on rewards up to ${Math.max(...want.map(Math.abs)).toFixed(1)}`);
  const cmpPair = [{ prompt: text('What is 2+1?'), responseA: text(' 3'), responseB: text(' 9') }];
  const [c1, c2] = [await rm.compare({ pairs: cmpPair }), await rmMerged.compare({ pairs: cmpPair })];
  assert.ok(Math.abs(c1.results[0]!.probAPreferred - c2.results[0]!.probAPreferred) <= 1e-5);
  const info = await rm.getModelInfo({});
  assert.equal(info.model!.lora?.rank, spec.rank, 'ModelInfo.lora describes the served adapter');

  // Without a head the base's head scores (PEFT without modules_to_save): on top of the adapter version.
  await rm.pushWeights(push(tensorsOf(rmAdapter), shapesOf(rmAdapter), 3n, { name: 'default' }).chunks);
  await rmMerged.pushWeights(push(tensorsOf(mergedRewardBaseHead), shapesOf(mergedRewardBaseHead), 2n).chunks);
  const [got3, want3] = [await rewardsOf(rm), await rewardsOf(rmMerged)];
  got3.forEach((r, i) => assert.ok(close(r, want3[i]!, 1e-5), `no head, item ${i}: ${r} vs ${want3[i]}`));

  await assert.rejects(rm.pushWeights(push(tensorsOf(rmAdapter), shapesOf(rmAdapter), 4n, { name: 'second' }).chunks), (e: unknown) => e instanceof ServiceError && e.code === status.INVALID_ARGUMENT && /one adapter/.test(e.message));
  // A FULL push is the whole reward model: the adapter is gone, the base scores exactly as before.
  await rm.pushWeights(push(tensorsOf(rewardBase), shapesOf(rewardBase), 4n).chunks);
  assert.deepEqual(await rewardsOf(rm), baseRewards);
  assert.equal((await rm.getModelInfo({})).model!.lora, undefined);
});
