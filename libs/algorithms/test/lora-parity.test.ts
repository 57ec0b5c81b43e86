// juice's LoRA training loops (runSft / runPairwise with `lora`: adapters as the trained ParamSet, the frozen
// base fed as inputs, the DPO reference = the base with adapters disabled) against an independent PyTorch
// float64 run (golden/make_lora_golden.py → lora_golden.json), the adapter weights compared after EVERY
// AdamW step. SFT: rank 2, α 8 on q_proj, v_proj, down_proj, weight decay, clipping, linear LR; DPO: rsLoRA
// rank 4 on k_proj, o_proj, gate_proj, up_proj, cosine LR. Tolerance: max |juice − torch| / max |torch|
// per adapter tensor ≤ 1e-4 (juice trains in float32).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { configFromHf, loraParameterShapes, type LoraSpec } from '@juice/models';
import { ParamSet } from '@juice/optim';
import { runPairwise, runSft } from '../src/index.js';

type Example = [number[], number[]];
interface StepRecord { loss: number; grad_norm: number; adapters: Record<string, number[]> }
interface LoraOptions { rank: number; alpha: number; target_modules: string[]; use_rslora: boolean }
interface RunOptions { lora: LoraOptions; batch_size: number; steps: number; lr: number; schedule: 'linear' | 'cosine'; max_grad_norm: number; weight_decay: number; betas: [number, number]; eps: number; beta?: number }
interface Run<R> { options: RunOptions; rows: R[]; shapes: Record<string, number[]>; initial: Record<string, number[]>; steps: StepRecord[] }
interface Golden { config: Record<string, unknown>; shapes: Record<string, number[]>; base: Record<string, number[]>; sft: Run<Example>; dpo: Run<[Example, Example]> }

const golden = JSON.parse(readFileSync(new URL('./golden/lora_golden.json', import.meta.url), 'utf8')) as Golden;
const config = configFromHf(golden.config);
const TOL = 1e-4;
const example = ([promptIds, responseIds]: Example) => ({ promptIds, responseIds, truncated: false });
const specOf = (l: LoraOptions): LoraSpec => ({ rank: l.rank, alpha: l.alpha, targetModules: l.target_modules, useRslora: l.use_rslora });

function base(): ParamSet {
  const p = new ParamSet(golden.shapes);
  p.load(golden.base);
  return p;
}

function adapters(run: Run<unknown>, spec: LoraSpec): ParamSet {
  const shapes = loraParameterShapes(config, spec);
  assert.deepEqual(Object.fromEntries(shapes.map((s) => [s.name, s.shape])), run.shapes, 'juice selects the same modules, PEFT names and shapes');
  const p = new ParamSet(shapes);
  p.load(run.initial);
  return p;
}

function relErr(actual: ArrayLike<number>, expected: readonly number[]): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < expected.length; i++) {
    num = Math.max(num, Math.abs(actual[i]! - expected[i]!));
    den = Math.max(den, Math.abs(expected[i]!));
  }
  return num / (den || 1);
}

function checker(t: TestContext, label: string, params: ParamSet, frozen: ParamSet, expected: readonly StepRecord[]) {
  const before = frozen.data.slice();
  const losses: number[] = [];
  const errors: number[] = [];
  return {
    errors,
    onStep: (_: number, m: Record<string, number>) => void losses.push(m.loss!),
    afterStep: ({ step }: { step: number }) => {
      const want = expected[step - 1]!;
      let worst = { name: '', err: -1 };
      for (const n of params.names) {
        const err = relErr(params.view(n), want.adapters[n]!);
        if (err > worst.err) worst = { name: n, err };
      }
      errors.push(worst.err);
      t.diagnostic(`${label} step ${step}: loss ${losses[step - 1]!.toFixed(6)} (torch ${want.loss.toFixed(6)}), worst adapter relErr ${worst.err.toExponential(2)} (${worst.name})`);
      assert.ok(Math.abs(losses[step - 1]! - want.loss) <= 1e-4 * Math.max(1, Math.abs(want.loss)), `${label} step ${step}: loss ${losses[step - 1]} vs torch ${want.loss}`);
      assert.ok(worst.err <= TOL, `${label} step ${step}: ${worst.name} differs from torch by ${worst.err.toExponential(2)}`);
      assert.ok(frozen.data.every((v, i) => v === before[i]), `${label} step ${step}: the base weights are unchanged`);
    },
  };
}

test('LoRA SFT: adapter weights after every AdamW step match PyTorch (frozen base, decay, clipping, linear LR)', async (t) => {
  const o = golden.sft.options;
  const spec = specOf(o.lora);
  const frozen = base();
  const params = adapters(golden.sft, spec);
  const check = checker(t, 'LoRA SFT', params, frozen, golden.sft.steps);
  await runSft({
    config, params, lora: { spec, base: frozen }, examples: golden.sft.rows.map(example), padTokenId: 0, batchSize: o.batch_size,
    maxSteps: o.steps, epochs: 1, learningRate: o.lr, schedule: o.schedule, warmupSteps: 0, weightDecay: o.weight_decay,
    maxGradNorm: o.max_grad_norm, seed: 1, noShuffle: true, onStep: check.onStep, afterStep: check.afterStep,
  });
  assert.equal(check.errors.length, o.steps);
});

test('LoRA DPO: adapter weights after every AdamW step match PyTorch (π_ref = the base with adapters off, rsLoRA, cosine LR)', async (t) => {
  const o = golden.dpo.options;
  const spec = specOf(o.lora);
  const frozen = base();
  const params = adapters(golden.dpo, spec);
  const check = checker(t, 'LoRA DPO', params, frozen, golden.dpo.steps);
  await runPairwise({
    config, params, lora: { spec, base: frozen }, pairs: golden.dpo.rows.map(([c, r]) => ({ chosen: example(c), rejected: example(r) })), beta: o.beta!, loss: 'logistic',
    padTokenId: 0, batchSize: o.batch_size, steps: o.steps, learningRate: o.lr, schedule: o.schedule, weightDecay: o.weight_decay,
    maxGradNorm: o.max_grad_norm, seed: 1, noShuffle: true, onStep: check.onStep, afterStep: check.afterStep,
  });
  assert.equal(check.errors.length, o.steps);
});
