// The Bradley-Terry reward loop on a small preference set: held-out pairwise accuracy rises from chance
// to near 1, and frozen layers (embeddings + the lowest N) stay bit-identical while the rest moves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gaussian, initParameters, rewardParameterShapes, type ModelConfig } from '@juice/models';
import { ParamSet } from '@juice/optim';
import { frozenLayerParameters, RewardModelTrainer, type PairExample } from '../src/index.js';

const config: ModelConfig = {
  architecture: 'llama', vocabSize: 16, hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2,
  headDim: 8, rmsNormEps: 1e-6, ropeTheta: 10000, maxPositions: 32, tieWordEmbeddings: false, qkvBias: false,
};

// Preferred: the response copies the prompt's body; dispreferred: it reverses it.
function pairs(n: number, seed: number): PairExample[] {
  let s = seed >>> 0;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) % 13) + 2;
  return Array.from({ length: n }, () => {
    const prompt = [1, ...Array.from({ length: 4 }, rand), 15];
    const body = prompt.slice(1, 5);
    return { chosen: { promptIds: prompt, responseIds: [...body, 14], truncated: false }, rejected: { promptIds: prompt, responseIds: [...body].reverse().concat(14), truncated: false } };
  });
}

function rewardParams(seed: number): ParamSet {
  const lm = initParameters(config, seed, 0.1);
  const p = new ParamSet(rewardParameterShapes(config));
  for (const e of p.entries) if (lm.has(e.name)) p.set(e.name, lm.view(e.name));
  const rand = gaussian(seed + 1);
  const head = p.view('score.weight');
  for (let i = 0; i < head.length; i++) head[i] = 0.02 * rand();
  return p;
}

test('frozen_layers selects the embeddings and the lowest N layers', () => {
  const names = rewardParameterShapes(config).map((s) => s.name);
  assert.deepEqual(frozenLayerParameters(config, names, 0), []);
  const one = frozenLayerParameters(config, names, 1);
  assert.ok(one.includes('model.embed_tokens.weight') && one.includes('model.layers.0.mlp.up_proj.weight'));
  assert.ok(!one.some((n) => n.startsWith('model.layers.1.') || n === 'score.weight' || n === 'model.norm.weight'));
  assert.throws(() => frozenLayerParameters(config, names, 3), /frozen_layers 3 exceeds/);
});

test('Bradley-Terry training raises held-out pairwise accuracy; frozen tensors do not move', async (t) => {
  const params = rewardParams(3);
  const before = params.clone();
  const rm = await RewardModelTrainer.create({ config, params, padTokenId: 0, learningRate: 3e-3, frozenLayers: 1, centerCoefficient: 0.01, weightDecay: 0.01 });
  try {
    const heldOut = pairs(48, 999);
    const start = await rm.evaluate(heldOut);
    const fit = await rm.fit({ pairs: pairs(512, 1), batchSize: 16, steps: 300, seed: 1 });
    const end = await rm.evaluate(heldOut);
    t.diagnostic(`held-out accuracy ${start.accuracy.toFixed(3)} -> ${end.accuracy.toFixed(3)}, loss ${start.loss.toFixed(3)} -> ${end.loss.toFixed(3)}`);
    assert.ok(start.accuracy < 0.8, `a fresh head is not already right (accuracy ${start.accuracy})`);
    assert.ok(end.accuracy >= 0.9 && end.margin > 1, `held-out accuracy ${start.accuracy.toFixed(2)} -> ${end.accuracy.toFixed(2)}, margin ${end.margin.toFixed(2)}`);
    assert.ok(end.loss < start.loss * 0.5, `held-out loss ${start.loss.toFixed(3)} -> ${end.loss.toFixed(3)}`);
    assert.ok(fit.last['rm/accuracy']! >= 0.9, `training accuracy ${fit.last['rm/accuracy']}`);
    for (const n of rm.frozen) assert.deepEqual(params.view(n), before.view(n), `${n} is frozen`);
    for (const n of ['score.weight', 'model.layers.1.self_attn.q_proj.weight', 'model.norm.weight']) assert.notDeepEqual(params.view(n), before.view(n), `${n} trains`);
  } finally {
    await rm.release();
  }
});
