// IRFT's added SFT term (sft_loss_coefficient α): pair_loss = pairwise + α·NLL, where NLL is the
// token mean over the chosen rows only (the first B of 2B, labels −100 ignored). Checked against plain
// JS from the graph's own token_logprobs, and its gradient against central finite differences, both on
// the objective alone and through a float64 transformer. Also runPairwise's stopAfter (max_steps).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { grad, forwardOnly } from '@juice/autograd';
import { checkGradients } from '@juice/autograd/testing';
import { collatePairBatch, type TokenBatch, type TokenizedExample } from '@juice/data';
import { initParameters, type ModelConfig } from '@juice/models';
import { GraphBuilder, toModelBytes, type Graph } from '@juice/onnx';
import type { ParamSet } from '@juice/optim';
import { demonstrationNll } from '../src/objectives/pairwise.js';
import { pairwiseGraph, runPairwise, type PairExample } from '../src/index.js';

const config: ModelConfig = {
  architecture: 'llama', vocabSize: 16, hiddenSize: 16, intermediateSize: 32, numLayers: 1, numHeads: 2, numKvHeads: 1,
  headDim: 8, rmsNormEps: 1e-6, ropeTheta: 10000, maxPositions: 32, tieWordEmbeddings: false, qkvBias: false,
};

/** JS reference: −(sum of chosen rows' predicted-token log-probs) / (their count). */
function nllOfChosen(tokenLogps: ArrayLike<number>, labels: ArrayLike<bigint | number>, rows: number, seqLen: number): number {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < (rows / 2) * seqLen; i++) {
    if (Number(labels[i]) === -100) continue;
    sum += tokenLogps[i]!;
    count++;
  }
  return -sum / Math.max(1, count);
}

test('demonstrationNll: token mean over the chosen rows (−100 ignored) and its gradient match JS and finite differences', async () => {
  // 2B = 4 rows of T = 5; rows 0-1 chosen. Different numbers of predicted tokens per row, so a per-row
  // mean or an all-rows mean would give another value.
  const labels = [-100, 3, 4, -100, -100, -100, -100, 7, 8, 9, -100, 1, 2, 3, 4, 5, -100, -100, -100, -100];
  const tok = Array.from({ length: 20 }, (_, i) => -0.3 - ((i * 7) % 11) / 5);
  const b = new GraphBuilder('nll');
  b.output(demonstrationNll(b, b.input('tok', 'float64', [4, 5]), b.input('labels', 'int64', [4, 5])), 'nll');
  const s = await ort.InferenceSession.create(toModelBytes(forwardOnly(b.build(), ['nll'])));
  const out = await s.run({ tok: new ort.Tensor('float64', Float64Array.from(tok), [4, 5]), labels: new ort.Tensor('int64', BigInt64Array.from(labels.map(BigInt)), [4, 5]) });
  await s.release();
  const expected = nllOfChosen(tok, labels, 4, 5);
  assert.ok(Math.abs(Number((out.nll!.data as Float64Array)[0]) - expected) < 1e-12, `${out.nll!.data[0]} vs ${expected}`);
  assert.ok(Math.abs(expected - -(tok[1]! + tok[2]! + tok[7]! + tok[8]! + tok[9]!) / 5) < 1e-12);

  const r = await checkGradients({
    inputs: { tok: { shape: [4, 5], range: [-6, -0.1] }, labels: { shape: [4, 5], dtype: 'int64', values: labels } },
    build: (gb, x) => demonstrationNll(gb, x.tok!, x.labels!),
  });
  assert.ok(r.maxErr <= r.tol, `max error ${r.maxErr} at ${JSON.stringify(r.worst)}`);
});

test('demonstrationNll is 0, not NaN, when no chosen token is predicted', async () => {
  const r = await checkGradients({
    inputs: { tok: { shape: [2, 3], range: [-3, -1] }, labels: { shape: [2, 3], dtype: 'int64', values: [-100, -100, -100, 1, 2, 3] } },
    build: (gb, x) => demonstrationNll(gb, x.tok!, x.labels!),
  });
  assert.equal(r.maxErr, 0, 'the chosen half has no predicted token: zero gradient everywhere');
});

// Pairs with prompts and responses of different lengths (padding and prompt positions are −100).
function pairs(): PairExample[] {
  const ex = (p: number[], r: number[]): TokenizedExample => ({ promptIds: p, responseIds: r, truncated: false });
  return [
    { chosen: ex([1, 4, 5], [6, 7, 2]), rejected: ex([1, 4, 5], [9, 2]) },
    { chosen: ex([1, 8], [3, 3, 10, 11, 2]), rejected: ex([1, 8], [12, 13, 14, 2]) },
    { chosen: ex([1, 9, 9, 9], [5, 2]), rejected: ex([1, 9, 9, 9], [2]) },
  ];
}

function feedsOf(batch: TokenBatch): Record<string, ort.Tensor> {
  const dims = [batch.batchSize, batch.seqLen];
  return {
    input_ids: new ort.Tensor('int64', batch.inputIds, dims),
    attention_mask: new ort.Tensor('int64', batch.attentionMask, dims),
    labels: new ort.Tensor('int64', batch.labels, dims),
  };
}

function weightFeeds(params: ParamSet, dtype: 'float32' | 'float64', override?: { name: string; index: number; delta: number }): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const e of params.entries) {
    const v = dtype === 'float64' ? Float64Array.from(params.view(e.name)) : Float32Array.from(params.view(e.name));
    if (override?.name === e.name) v[override.index]! += override.delta;
    out[e.name] = new ort.Tensor(dtype, v, [...e.shape]);
  }
  return out;
}

async function session(graph: Graph) {
  return ort.InferenceSession.create(toModelBytes(graph), { graphOptimizationLevel: 'basic' });
}

test('pairwiseGraph with α > 0: pair_loss = (α = 0 pair_loss) + α·NLL of the chosen rows from token_logprobs', async () => {
  const alpha = 0.7;
  const params = initParameters(config, 5, 0.3);
  const batch = collatePairBatch(pairs().map((p) => p.chosen), pairs().map((p) => p.rejected), { padTokenId: 0 });
  const data = feedsOf(batch);
  // A reference other than the policy, so the pairwise term is not just log 2.
  const ref = Float32Array.from({ length: 2 * 3 }, (_, i) => -3 - i);
  const feeds = { ...data, ...weightFeeds(params, 'float32'), ref_logps: new ort.Tensor('float32', ref, [6]) };
  const run = async (a: number, outputs: string[]) => {
    const s = await session(forwardOnly(pairwiseGraph(config, 0.5, 'logistic', { sftCoefficient: a }).graph, outputs));
    const r = await s.run(feeds);
    await s.release();
    return r;
  };
  const withSft = await run(alpha, ['pair_loss', 'sft/loss', 'token_logprobs', 'loss']);
  const without = await run(0, ['pair_loss']);
  const nll = nllOfChosen(withSft.token_logprobs!.data as Float32Array, batch.labels, batch.batchSize, batch.seqLen);
  const got = Number(withSft.pair_loss!.data[0]);
  const expected = Number(without.pair_loss!.data[0]) + alpha * nll;
  assert.ok(nll > 0.5, `a near-uniform model has a sizeable NLL (${nll})`);
  assert.ok(Math.abs(got - expected) < 1e-5, `pair_loss ${got} vs α=0 pair_loss + α·NLL = ${expected}`);
  assert.ok(Math.abs(Number(withSft['sft/loss']!.data[0]) - nll) < 1e-5, 'sft/loss reports the NLL term');
  // The LM's own loss averages over all 2B rows: the SFT term must not be that.
  assert.ok(Math.abs(Number(withSft.loss!.data[0]) - nll) > 1e-3, 'the NLL is over the chosen rows only');
});

test('the SFT term\'s gradient through a float64 transformer matches central finite differences', async () => {
  const alpha = 0.7;
  const params = initParameters(config, 6, 0.3);
  const batch = collatePairBatch(pairs().map((p) => p.chosen), pairs().map((p) => p.rejected), { padTokenId: 0 });
  const data = { ...feedsOf(batch), ref_logps: new ort.Tensor('float64', Float64Array.from({ length: 6 }, (_, i) => -3 - i), [6]) };
  const graphOf = (a: number) => pairwiseGraph(config, 0.5, 'logistic', { sftCoefficient: a, dtype: 'float64' }).graph;
  // The new term's gradient = d pair_loss(α) − d pair_loss(0), w.r.t. every weight.
  const gradsOf = async (a: number) => {
    const s = await session(grad(graphOf(a), { loss: 'pair_loss', wrt: params.names }));
    const r = await s.run({ ...data, ...weightFeeds(params, 'float64') });
    await s.release();
    return r;
  };
  const [ga, g0] = [await gradsOf(alpha), await gradsOf(0)];
  const fwdA = await session(forwardOnly(graphOf(alpha), ['pair_loss']));
  const fwd0 = await session(forwardOnly(graphOf(0), ['pair_loss']));
  const term = async (o?: { name: string; index: number; delta: number }) => {
    const w = { ...data, ...weightFeeds(params, 'float64', o) };
    return Number((await fwdA.run(w)).pair_loss!.data[0]) - Number((await fwd0.run(w)).pair_loss!.data[0]);
  };
  const eps = 1e-5;
  let maxErr = 0;
  let checked = 0;
  let largest = 0;
  for (const e of params.entries) {
    const a = ga[`grad.${e.name}`]!.data as Float64Array;
    const b = g0[`grad.${e.name}`]!.data as Float64Array;
    // Per tensor: the element where the new term's gradient is largest, and two fixed ones.
    let top = 0;
    for (let i = 1; i < a.length; i++) if (Math.abs(a[i]! - b[i]!) > Math.abs(a[top]! - b[top]!)) top = i;
    for (const index of new Set([top, 0, Math.floor(a.length / 2)])) {
      const numeric = ((await term({ name: e.name, index, delta: eps })) - (await term({ name: e.name, index, delta: -eps }))) / (2 * eps);
      const analytic = a[index]! - b[index]!;
      maxErr = Math.max(maxErr, Math.abs(analytic - numeric) / (1 + Math.abs(numeric)));
      largest = Math.max(largest, Math.abs(analytic));
      checked++;
    }
  }
  await fwdA.release();
  await fwd0.release();
  assert.ok(largest > 1e-2, `the term has a real gradient (largest checked ${largest})`);
  assert.ok(maxErr < 1e-6, `max error ${maxErr} over ${checked} weights`);
});

test('runPairwise: sft/loss is reported only with α > 0; stopAfter ends early on the uncapped schedule', async () => {
  const reference = initParameters(config, 7, 0.1);
  const common = { config, reference, pairs: pairs(), beta: 0.5, loss: 'logistic' as const, padTokenId: 0, batchSize: 3, steps: 6, learningRate: 1e-2, schedule: 'linear' as const, seed: 1 };
  const full: Record<string, number>[] = [];
  await runPairwise({ ...common, params: reference.clone(), onStep: (_s, m) => full.push(m) });
  const capped: Record<string, number>[] = [];
  const lasts: boolean[] = [];
  await runPairwise({ ...common, params: reference.clone(), sftCoefficient: 0.5, stopAfter: 4, onStep: (_s, m) => capped.push(m), afterStep: (at) => void lasts.push(at.last) });
  assert.equal(full.length, 6);
  assert.equal(capped.length, 4);
  assert.deepEqual(lasts, [false, false, false, true], 'the capped run\'s last step is marked last (the job checkpoints it)');
  assert.deepEqual(capped.map((m) => m.lr), full.slice(0, 4).map((m) => m.lr), 'the LR schedule still spans `steps`');
  assert.equal(full[0]!['sft/loss'], undefined);
  for (const m of capped) assert.ok(Number.isFinite(m['sft/loss']) && m['sft/loss']! > 0, `sft/loss ${m['sft/loss']}`);
  // Step 1 runs on identical weights and data in both: the loss differs by exactly α·sft/loss.
  assert.ok(Math.abs(capped[0]!.loss! - full[0]!.loss! - 0.5 * capped[0]!['sft/loss']!) < 1e-5);
});
