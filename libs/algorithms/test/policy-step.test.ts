// RFT's policy step for each method: rollouts of a "good" and a "bad" response per prompt, rewarded +1
// and −1; after one round of updates the policy's log-prob of the good response rose and of the bad one
// fell, on prompts it never trained on, relative to where it started (π_ref). APA/PPO also fit the value head.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildCausalLm, initParameters, type ModelConfig } from '@juice/models';
import { ParamSet } from '@juice/optim';
import { collateBatch } from '@juice/data';
import { EvalStep, initValueHead, PolicyTrainer, policyParameterShapes, type RftMethod, type Rollout } from '../src/index.js';

const config: ModelConfig = {
  architecture: 'llama', vocabSize: 16, hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2,
  headDim: 8, rmsNormEps: 1e-6, ropeTheta: 10000, maxPositions: 32, tieWordEmbeddings: false, qkvBias: false,
};
const GOOD = [3, 5, 14];
const BAD = [4, 6, 14];

function prompts(n: number, seed: number): number[][] {
  let s = seed >>> 0;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) % 13) + 2;
  return Array.from({ length: n }, () => [1, ...Array.from({ length: 3 }, rand), 15]);
}

async function seqLogps(params: ParamSet, ps: number[][], response: number[]): Promise<number> {
  const lm = params.clone();
  const only = new ParamSet(initParameters(config, 0).entries.map((e) => ({ name: e.name, shape: e.shape })));
  for (const e of only.entries) only.set(e.name, lm.view(e.name));
  const ev = await EvalStep.create(buildCausalLm(config).graph, only, ['seq_logprobs']);
  const b = collateBatch(ps.map((p) => ({ promptIds: p, responseIds: response, truncated: false })), { padTokenId: 0 });
  const out = (await ev.run({ input_ids: { data: b.inputIds, dims: [b.batchSize, b.seqLen] }, attention_mask: { data: b.attentionMask, dims: [b.batchSize, b.seqLen] }, labels: { data: b.labels, dims: [b.batchSize, b.seqLen] } }))['seq_logprobs']!.data as Float32Array;
  await ev.release();
  return out.reduce((a, x) => a + x, 0) / out.length;
}

for (const method of ['apa', 'ppo_clip', 'rloo', 'reinforce'] as RftMethod[]) {
  test(`${method}: the policy step moves log-probs in the advantage's direction`, async (t) => {
    const base = initParameters(config, 7, 0.1);
    const params = new ParamSet(policyParameterShapes(config, method));
    for (const e of base.entries) params.set(e.name, base.view(e.name));
    if (method === 'apa' || method === 'ppo_clip') initValueHead(params, 1);
    const trainer = await PolicyTrainer.create({ config, params, reference: base.clone(), method, padTokenId: 0, learningRate: 3e-3, apaLambda: 0.1, ppoClip: 0.2, valueClip: method === 'ppo_clip' ? 0.5 : 0 });
    try {
      const heldOut = prompts(16, 99);
      const good0 = await seqLogps(params, heldOut, GOOD);
      const bad0 = await seqLogps(params, heldOut, BAD);
      // Two samples per prompt, consecutive (RLOO's groups): the good one first, then the bad one.
      const rollouts: Rollout[] = prompts(32, 5).flatMap((p) => [{ promptIds: p, responseIds: GOOD, reward: 1 }, { promptIds: p, responseIds: BAD, reward: -1 }]);
      const steps: Record<string, number>[] = [];
      const r = await trainer.step({ rollouts, samplesPerPrompt: 2, klCoef: 0.05, whitenAdvantages: true, gaeGamma: 1, gaeLambda: 0.95, epochs: 3, batchSize: 16, seed: 1, onStep: (_s, m) => steps.push(m) });
      const good1 = await seqLogps(params, heldOut, GOOD);
      const bad1 = await seqLogps(params, heldOut, BAD);
      t.diagnostic(`log π(good) ${good0.toFixed(3)} -> ${good1.toFixed(3)}, log π(bad) ${bad0.toFixed(3)} -> ${bad1.toFixed(3)}, steps ${r.steps}, metrics ${JSON.stringify(r.metrics)}`);
      assert.equal(r.steps, 3 * 4);
      assert.equal(steps.length, r.steps);
      assert.ok(good1 > good0 + 0.3, `log π(good) ${good0.toFixed(3)} -> ${good1.toFixed(3)}`);
      assert.ok(bad1 < bad0 - 0.3, `log π(bad) ${bad0.toFixed(3)} -> ${bad1.toFixed(3)}`);
      assert.ok(Math.abs(r.metrics.kl!) < 1e-4, 'rollouts were analysed with π_old = π_ref (no KL yet)');
      for (const k of ['policy_loss', 'grad_norm']) assert.ok(Number.isFinite(r.metrics[k]), `${k} reported`);
      if (method === 'apa' || method === 'ppo_clip') {
        const v = steps.map((m) => m.value_loss!);
        assert.ok(v.at(-1)! < v[0]!, `the value head fits the returns: value_loss ${v[0]!.toFixed(4)} -> ${v.at(-1)!.toFixed(4)}`);
      }
    } finally {
      await trainer.release();
    }
  });
}

test('the policy trainer refuses parameters without the value head for APA', async () => {
  await assert.rejects(PolicyTrainer.create({ config, params: initParameters(config, 1), reference: initParameters(config, 1), method: 'apa', padTokenId: 0, learningRate: 1e-3 }), /v_head/);
});
