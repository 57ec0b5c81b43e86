// runSft with each job setting against independent PyTorch runs (golden/make_settings_golden.py, values in
// golden/settings-golden.json): AdamW β1/β2/ε with weight decay on all but norms, RMSprop (α, ε, momentum,
// L2), SEQUENCE_SUM, train_on_prompt, gradient accumulation (equal to the big batch) and min_lr_ratio under
// linear and cosine. Every step's loss and lr and the final weights must agree within 1e-4; and each
// setting must move the result away from the defaults' (a setting that changes nothing is not honoured).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { configFromHf, parameterShapes } from '@juice/models';
import { ParamSet, type OptimizerSettings } from '@juice/optim';
import { runSft, type SftLossReduction } from '../src/index.js';

interface Settings {
  lr: number;
  batchSize: number;
  accumulation?: number;
  steps: number;
  schedule: 'constant' | 'linear' | 'cosine';
  warmupSteps: number;
  minLrRatio: number;
  lossReduction: SftLossReduction;
  trainOnPrompt: boolean;
  optimizer: OptimizerSettings;
}
interface Golden {
  config: Record<string, unknown>;
  pad: number;
  rows: { prompt: number[]; response: number[] }[];
  initial: Record<string, number[]>;
  cases: Record<string, { settings: Settings; losses: number[]; lrs: number[]; weights: Record<string, number[]> }>;
}
const golden = JSON.parse(readFileSync(new URL('./golden/settings-golden.json', import.meta.url), 'utf8')) as Golden;
const config = configFromHf(golden.config);

async function train(s: Settings): Promise<{ losses: number[]; lrs: number[]; params: ParamSet }> {
  const params = new ParamSet(parameterShapes(config));
  for (const [name, data] of Object.entries(golden.initial)) params.set(name, data);
  const losses: number[] = [];
  const lrs: number[] = [];
  await runSft({
    config,
    params,
    examples: golden.rows.map((r) => ({ promptIds: r.prompt, responseIds: r.response, truncated: false })),
    padTokenId: golden.pad,
    batchSize: s.batchSize,
    gradientAccumulationSteps: s.accumulation ?? 1,
    maxSteps: s.steps,
    epochs: 1,
    learningRate: s.lr,
    schedule: s.schedule,
    warmupSteps: s.warmupSteps,
    minLrRatio: s.minLrRatio,
    weightDecay: 0,
    optimizerSettings: s.optimizer,
    lossReduction: s.lossReduction,
    trainOnPrompt: s.trainOnPrompt,
    maxGradNorm: 1,
    seed: 1,
    noShuffle: true,
    onStep: (_, m) => {
      losses.push(m.loss!);
      lrs.push(m.lr!);
    },
  });
  return { losses, lrs, params };
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let d = 0;
  for (let i = 0; i < b.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
};

const results = new Map<string, Awaited<ReturnType<typeof train>>>();

for (const [name, c] of Object.entries(golden.cases)) {
  test(`${name}: losses, lrs and weights match PyTorch within 1e-4`, async (t) => {
    const r = await train(c.settings);
    results.set(name, r);
    assert.ok(maxDiff(r.lrs, c.lrs) < 1e-12, `lrs ${r.lrs} vs ${c.lrs}`);
    const lossErr = maxDiff(r.losses, c.losses);
    assert.ok(lossErr <= 1e-4, `losses ${r.losses} vs ${c.losses} (max diff ${lossErr})`);
    let worst = 0;
    let where = '';
    for (const [tensor, expected] of Object.entries(c.weights)) {
      const d = maxDiff(r.params.view(tensor), expected);
      if (d > worst) [worst, where] = [d, tensor];
    }
    t.diagnostic(`max |Δloss| ${lossErr.toExponential(2)}, max |Δweight| ${worst.toExponential(2)} (${where})`);
    assert.ok(worst <= 1e-4, `weights differ by ${worst} in ${where}`);
  });
}

test('every setting changes the run (the reference agrees it should)', () => {
  const base = results.get('defaults');
  assert.ok(base, 'the defaults case ran');
  for (const [name, c] of Object.entries(golden.cases)) {
    if (name === 'defaults' || name === 'accumulation_2x2') continue;
    const r = results.get(name)!;
    const moved = Math.max(maxDiff(r.losses, base.losses), maxDiff(r.params.data, base.params.data));
    assert.ok(moved > 1e-3, `${name} left the run as the defaults' (max change ${moved})`);
    assert.ok(maxDiff(c.losses, golden.cases.defaults!.losses) + maxDiff(c.weights['lm_head.weight']!, golden.cases.defaults!.weights['lm_head.weight']!) > 1e-3, `${name}: the reference itself does not differ`);
  }
});
