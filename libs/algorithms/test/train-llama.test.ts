// The engine end to end on a real transformer: a two-block Llama-style model learns to copy a sequence
// (loss falls by a clear factor), and a run saved mid-way and restored into fresh objects continues
// bit-identically to an uninterrupted run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdamW, deserializeOptimizerState, serializeOptimizerState, ParamSet, clipGradNorm } from '@juice/optim';
import { buildCausalLm, initParameters, type ModelConfig } from '@juice/models';
import { TrainStep } from '../src/index.js';

const config: ModelConfig = {
  architecture: 'llama', vocabSize: 16, hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2,
  headDim: 8, rmsNormEps: 1e-6, ropeTheta: 10000, maxPositions: 32, tieWordEmbeddings: false, qkvBias: false,
};
const B = 16;
const L = 5; // copy L tokens after a separator: [x1..xL, SEP, x1..xL]
const T = 2 * L + 1;
const SEP = 15;

function batch(step: number) {
  let s = (step * 2654435761) >>> 0;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) % 14) + 1;
  const ids = new BigInt64Array(B * T);
  const labels = new BigInt64Array(B * T).fill(-100n);
  for (let b = 0; b < B; b++) {
    const xs = Array.from({ length: L }, rand);
    const row = [...xs, SEP, ...xs];
    row.forEach((t, i) => (ids[b * T + i] = BigInt(t)));
    // Predict the copy: position L+i predicts row[L+1+i].
    for (let i = L; i < T - 1; i++) labels[b * T + i] = BigInt(row[i + 1]!);
  }
  return {
    input_ids: { data: ids, dims: [B, T] },
    attention_mask: { data: new BigInt64Array(B * T).fill(1n), dims: [B, T] },
    labels: { data: labels, dims: [B, T] },
  };
}

async function train(params: ParamSet, opt: AdamW, from: number, to: number, step: TrainStep): Promise<number[]> {
  const losses: number[] = [];
  for (let i = from; i < to; i++) {
    const r = await step.run(batch(i));
    clipGradNorm(r.grads, 1.0);
    opt.step(r.grads);
    losses.push(r.loss);
  }
  return losses;
}

test('a two-block Llama learns to copy, and a restored run continues bit-identically', async (t) => {
  const { graph } = buildCausalLm(config);
  const params = initParameters(config, 7);
  const step = await TrainStep.create(graph, params, { intraOpThreads: 2 });
  const opt = new AdamW(params, { lr: 3e-3, weightDecay: 0.01 });
  const first = await train(params, opt, 0, 60, step);
  const savedParams = params.data.slice();
  const savedState = serializeOptimizerState(opt.state());
  const rest = await train(params, opt, 60, 120, step);
  const start = first.slice(0, 5).reduce((a, b) => a + b) / 5;
  const end = rest.slice(-5).reduce((a, b) => a + b) / 5;
  t.diagnostic(`loss ${start.toFixed(3)} -> ${end.toFixed(3)} over 120 steps`);
  assert.ok(end < start / 4, `loss ${start.toFixed(3)} -> ${end.toFixed(3)}`);

  // Restore into fresh objects and replay the second half.
  const params2 = new ParamSet(params.entries.map((e) => ({ name: e.name, shape: e.shape })));
  params2.data.set(savedParams);
  const opt2 = new AdamW(params2, { lr: 999 }); // hyper-parameters come from the saved state
  opt2.loadState(deserializeOptimizerState(savedState));
  const step2 = await TrainStep.create(graph, params2, { intraOpThreads: 2 });
  const rest2 = await train(params2, opt2, 60, 120, step2);
  assert.deepEqual(rest2, rest, 'same losses');
  assert.ok(params2.data.every((v, i) => Object.is(v, params.data[i])), 'bit-identical parameters');
  await step.release();
  await step2.release();
});
