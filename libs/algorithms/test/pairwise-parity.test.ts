// juice's pairwise loop (runPairwise: TrainStep, the pairwise objective, clipping, AdamW, the LR schedule)
// against an independent PyTorch float64 run (golden/make_pairwise_golden.py → pairwise_golden.json):
// a DPO job and two IRFT stages on a tiny Llama, the weights compared after EVERY optimizer step, the
// first included. The first step of a DPO job or an IRFT stage has π = π_ref, so every pair's margin is
// exactly 0: it is where a wrong derivative of log σ at 0 shows (1 instead of ½). Also log σ itself
// against torch.nn.functional.logsigmoid at 0 and at huge |u|.
// Tolerance: max |juice − torch| / max |torch| per tensor ≤ 1e-4 (juice trains in float32; the same
// script run by torch in float32 stays within ~5e-6 of its float64 run).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { grad } from '@juice/autograd';
import { configFromHf } from '@juice/models';
import { GraphBuilder, toModelBytes } from '@juice/onnx';
import { AdamW, ParamSet } from '@juice/optim';
import { logSigmoid, runPairwise, type PairExample } from '../src/index.js';

type Example = [number[], number[]];
interface StepRecord { rows: number[]; loss: number; grad_norm: number; weights: Record<string, number[]> }
interface RunOptions {
  beta: number; batch_size: number; steps: number; lr: number; schedule: 'constant' | 'linear' | 'cosine';
  max_grad_norm: number; sft_alpha: number; weight_decay: number; betas: [number, number]; eps: number;
}
interface Golden {
  config: Record<string, unknown>;
  shapes: Record<string, number[]>;
  initial: Record<string, number[]>;
  log_sigmoid: { u: number[] } & Record<'float64' | 'float32', { value: number[]; grad: number[] }>;
  dpo: { options: RunOptions; pairs: [Example, Example][]; steps: StepRecord[] };
  irft: { options: RunOptions; stages: { pairs: [Example, Example][]; steps: StepRecord[] }[] };
}

const golden = JSON.parse(readFileSync(new URL('./golden/pairwise_golden.json', import.meta.url), 'utf8')) as Golden;
const config = configFromHf(golden.config);
const TOL = 1e-4;

const example = ([promptIds, responseIds]: Example) => ({ promptIds, responseIds, truncated: false });
const pairsOf = (raw: [Example, Example][]): PairExample[] => raw.map(([c, r]) => ({ chosen: example(c), rejected: example(r) }));

function initialParams(): ParamSet {
  const params = new ParamSet(golden.shapes);
  params.load(golden.initial);
  return params;
}

/** max |a − b| / max |b|: relative to the tensor's scale, so near-zero entries do not dominate. */
function relErr(actual: ArrayLike<number>, expected: readonly number[]): number {
  assert.equal(actual.length, expected.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < expected.length; i++) {
    num = Math.max(num, Math.abs(actual[i]! - expected[i]!));
    den = Math.max(den, Math.abs(expected[i]!));
  }
  return num / (den || 1);
}

/** The worst tensor of `params` against a golden step. */
function worstTensor(params: ParamSet, expected: StepRecord): { name: string; err: number } {
  let worst = { name: '', err: -1 };
  for (const name of params.names) {
    const err = relErr(params.view(name), expected.weights[name]!);
    if (err > worst.err) worst = { name, err };
  }
  return worst;
}

/** Runs the checks of each step as the loop reaches it; returns the per-step worst errors. */
function stepChecker(t: TestContext, label: string, params: ParamSet, expected: readonly StepRecord[]) {
  const errors: number[] = [];
  const losses: number[] = [];
  return {
    errors,
    onStep: (step: number, metrics: Record<string, number>) => void losses.push(metrics.loss!),
    afterStep: ({ step }: { step: number }) => {
      const want = expected[step - 1]!;
      const worst = worstTensor(params, want);
      errors.push(worst.err);
      t.diagnostic(`${label} step ${step}: loss ${losses[step - 1]!.toFixed(6)} (torch ${want.loss.toFixed(6)}), worst weight relErr ${worst.err.toExponential(2)} (${worst.name})`);
      assert.ok(Math.abs(losses[step - 1]! - want.loss) <= 1e-4 * Math.max(1, Math.abs(want.loss)), `${label} step ${step}: loss ${losses[step - 1]} vs torch ${want.loss}`);
      assert.ok(worst.err <= TOL, `${label} step ${step}: ${worst.name} differs from torch by ${worst.err.toExponential(2)} (relative), > ${TOL}`);
    },
  };
}

test('log σ: values and derivatives match torch logsigmoid at 0, tiny, moderate and huge |u| (float64 and float32)', async () => {
  const { u } = golden.log_sigmoid;
  for (const dtype of ['float64', 'float32'] as const) {
    const g = new GraphBuilder('logsig');
    const x = g.input('u', dtype, [u.length]);
    g.output(logSigmoid(g, x), 'y');
    g.output(g.reduceSum(g.value('y'), undefined, false), 'loss');
    const session = await ort.InferenceSession.create(toModelBytes(grad(g.build(), { loss: 'loss', wrt: ['u'], keepOutputs: ['y'] })));
    const r = await session.run({ u: new ort.Tensor(dtype, dtype === 'float64' ? Float64Array.from(u) : Float32Array.from(u), [u.length]) });
    await session.release();
    const want = golden.log_sigmoid[dtype];
    const tol = dtype === 'float64' ? 1e-14 : 2e-7;
    const y = r.y!.data as Float64Array | Float32Array;
    const dy = r['grad.u']!.data as Float64Array | Float32Array;
    for (let i = 0; i < u.length; i++) {
      assert.ok(Number.isFinite(y[i]!) && Number.isFinite(dy[i]!), `${dtype} u ${u[i]}: finite`);
      assert.ok(Math.abs(y[i]! - want.value[i]!) <= tol * Math.max(1, Math.abs(want.value[i]!)), `${dtype} log σ(${u[i]}) = ${y[i]}, torch ${want.value[i]}`);
      assert.ok(Math.abs(dy[i]! - want.grad[i]!) <= tol, `${dtype} d log σ/du at ${u[i]} = ${dy[i]}, torch ${want.grad[i]}`);
    }
    assert.equal(dy[u.indexOf(0)], 0.5, 'σ(−0) = ½ exactly');
  }
});

test('DPO: weights after every AdamW step match PyTorch (frozen reference, cosine LR, clipping, a short last batch)', async (t) => {
  const o = golden.dpo.options;
  assert.deepEqual(o.betas, [0.9, 0.999], 'the loop\'s own AdamW: torch defaults');
  assert.equal(o.eps, 1e-8);
  const params = initialParams();
  const check = stepChecker(t, 'DPO', params, golden.dpo.steps);
  await runPairwise({
    config, params, reference: params.clone(), pairs: pairsOf(golden.dpo.pairs), beta: o.beta, loss: 'logistic', padTokenId: 0,
    batchSize: o.batch_size, steps: o.steps, learningRate: o.lr, schedule: o.schedule, weightDecay: o.weight_decay,
    maxGradNorm: o.max_grad_norm, seed: 1, noShuffle: true, onStep: check.onStep, afterStep: check.afterStep,
  });
  assert.equal(check.errors.length, o.steps, 'every step was compared');
});

test('IRFT: two stages (reference reset per stage, SFT term, optimizer carried over, one job-wide LR schedule) match PyTorch after every step', async (t) => {
  const o = golden.irft.options;
  const params = initialParams();
  // Norm weights get no decay, as in the torch script (HF Trainer's rule).
  const optimizer = new AdamW(params, { lr: o.lr, betas: o.betas, eps: o.eps, weightDecay: o.weight_decay, noDecay: (name) => name.endsWith('norm.weight') });
  for (const [i, stage] of golden.irft.stages.entries()) {
    const check = stepChecker(t, `IRFT stage ${i + 1}`, params, stage.steps);
    await runPairwise({
      config, params, reference: params.clone(), pairs: pairsOf(stage.pairs), beta: o.beta, loss: 'logistic', padTokenId: 0,
      batchSize: o.batch_size, steps: o.steps, sftCoefficient: o.sft_alpha, learningRate: o.lr, schedule: o.schedule,
      // One schedule over the job: stage i continues it at step i × steps (as the reference script does).
      scheduleSteps: o.steps * golden.irft.stages.length, scheduleStart: i * o.steps,
      maxGradNorm: o.max_grad_norm, seed: 1 + i, noShuffle: true, optimizer, onStep: check.onStep, afterStep: check.afterStep,
    });
    assert.equal(check.errors.length, o.steps, `stage ${i + 1}: every step was compared`);
  }
});
