// Each objective: values against a plain-JS float64 reference, gradients against central differences.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { GraphBuilder, toModelBytes } from '@juice/onnx';
import { forwardOnly } from '@juice/autograd';
import { checkGradients } from '@juice/autograd/testing';
import { bradleyTerryLoss, pairwiseLoss, policyGradientLoss, type PairLossKind } from '../src/index.js';

const B = 3;
const logps = [-4.1, -7.3, -2.2, -5.0, -6.1, -9.9];
const ref = [-4.5, -7.0, -3.0, -4.2, -6.5, -9.0];
const logSig = (x: number) => Math.min(x, 0) - Math.log1p(Math.exp(-Math.abs(x)));

async function evaluate(build: (g: GraphBuilder) => Record<string, import('@juice/onnx').Value>, feeds: Record<string, number[]>) {
  const g = new GraphBuilder('obj');
  const outs = build(g);
  for (const [name, v] of Object.entries(outs)) g.output(v, name);
  const graph = forwardOnly(g.build(), Object.keys(outs));
  const s = await ort.InferenceSession.create(toModelBytes(graph));
  const tensors = Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new ort.Tensor('float64', Float64Array.from(v), k.startsWith('tok') || ['adv', 'mask', 'reft', 'old'].includes(k) ? [2, v.length / 2] : [v.length])]));
  const r = await s.run(tensors);
  await s.release();
  return Object.fromEntries(Object.entries(r).map(([k, t]) => [k, Number((t.data as Float64Array)[0])]));
}

for (const kind of ['logistic', 'hinge', 'linear'] as PairLossKind[]) {
  test(`pairwise ${kind}: value and metrics match the formula, gradients match finite differences`, async () => {
    const beta = 0.1;
    const out = await evaluate(
      (g) => {
        const r = pairwiseLoss(g, g.input('logps', 'float64', [2 * B]), g.input('ref', 'float64', [2 * B]), { beta, loss: kind });
        return { loss: r.loss, margin: r.metrics['reward/margin']!, acc: r.metrics['reward/accuracy']! };
      },
      { logps, ref },
    );
    const u = [0, 1, 2].map((i) => beta * (logps[i]! - ref[i]!) - beta * (logps[i + B]! - ref[i + B]!));
    const per = u.map((x) => (kind === 'logistic' ? -logSig(x) : kind === 'hinge' ? Math.max(0, 1 - x) : -x));
    assert.ok(Math.abs(out.loss! - per.reduce((a, b) => a + b) / B) < 1e-12);
    assert.ok(Math.abs(out.margin! - u.reduce((a, b) => a + b) / B) < 1e-12);
    assert.equal(out.acc, u.filter((x) => x > 0).length / B);
    const r = await checkGradients({
      inputs: { logps: { shape: [2 * B], range: [-10, -1] }, ref: { shape: [2 * B], range: [-10, -1], wrt: false } },
      build: (g, x) => pairwiseLoss(g, x.logps!, x.ref!, { beta: 0.5, loss: kind }).loss,
    });
    assert.ok(r.maxErr <= r.tol, `max error ${r.maxErr}`);
  });
}

test('log-sigmoid stays finite for margins of ±1000', async () => {
  const out = await evaluate((g) => ({ loss: pairwiseLoss(g, g.input('logps', 'float64', [2]), g.input('ref', 'float64', [2]), { beta: 1, loss: 'logistic' }).loss }), { logps: [-2000, 0], ref: [0, 0] });
  assert.ok(Math.abs(out.loss! - 2000) < 1e-9);
});

test('Bradley-Terry: value, accuracy and centring term; gradients', async () => {
  const rewards = [1.5, -0.2, 0.3, 0.7, 0.1, 0.9];
  const out = await evaluate((g) => {
    const r = bradleyTerryLoss(g, g.input('r', 'float64', [6]), 0.01);
    return { loss: r.loss, acc: r.metrics['rm/accuracy']! };
  }, { r: rewards });
  const d = [0, 1, 2].map((i) => rewards[i]! - rewards[i + 3]!);
  const s = [0, 1, 2].map((i) => rewards[i]! + rewards[i + 3]!);
  const expected = -d.map(logSig).reduce((a, b) => a + b) / 3 + (0.01 * s.map((x) => x * x).reduce((a, b) => a + b)) / 3;
  assert.ok(Math.abs(out.loss! - expected) < 1e-12);
  assert.equal(out.acc, 1 / 3);
  const r = await checkGradients({ inputs: { r: { shape: [6] } }, build: (g, x) => bradleyTerryLoss(g, x.r!, 0.05).loss });
  assert.ok(r.maxErr <= r.tol, `max error ${r.maxErr}`);
});

test('policy gradient losses (APA, PPO-clip, REINFORCE): masked means and gradients', async () => {
  const tok = [-1.0, -2.0, -0.5, -1.5, -0.2, -3.0];
  const adv = [0.5, -1.0, 2.0, 0.3, 0.0, -0.7];
  const mask = [1, 1, 0, 1, 1, 1];
  const reft = [-1.1, -1.8, -0.4, -1.4, -0.3, -2.5];
  const out = await evaluate((g) => {
    const x = { advantages: g.input('adv', 'float64', [2, 3]), mask: g.input('mask', 'float64', [2, 3]), ref: g.input('reft', 'float64', [2, 3]) };
    return { loss: policyGradientLoss(g, g.input('tok', 'float64', [2, 3]), x, { method: 'apa', apaLambda: 0.1 }).loss };
  }, { tok, adv, mask, reft });
  let s = 0;
  let n = 0;
  for (let i = 0; i < 6; i++) if (mask[i]) (s += (tok[i]! - reft[i]! - adv[i]! / 0.1) ** 2), n++;
  assert.ok(Math.abs(out.loss! - s / n) < 1e-12);
  for (const method of ['apa', 'ppo_clip', 'reinforce'] as const) {
    const r = await checkGradients({
      inputs: {
        tok: { shape: [2, 3], range: [-3, -0.1] },
        adv: { shape: [2, 3], values: adv, wrt: false },
        mask: { shape: [2, 3], values: mask, wrt: false },
        other: { shape: [2, 3], range: [-3, -0.1], wrt: false },
      },
      build: (g, x) => policyGradientLoss(g, x.tok!, { advantages: x.adv!, mask: x.mask!, ref: x.other!, old: x.other! }, { method, clip: 0.2 }).loss,
    });
    assert.ok(r.maxErr <= r.tol, `${method}: max error ${r.maxErr}`);
  }
});
