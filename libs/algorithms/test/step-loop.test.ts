// The one step loop's policies, on a 4-value parameter with scripted gradients (no model needed):
// a non-finite loss or gradient skips the update (weights and optimizer untouched) and is counted in
// every step's `nonfinite_steps`; clipping defaults to max norm 1.0 (grad_norm reports the pre-clip norm);
// maxGradNorm 0 does not clip but still reports the norm; a resume without its state is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createOptimizer, ParamSet } from '@juice/optim';
import { checkResume, runStepLoop, type StepResult } from '@juice/algorithms';

const cursor = { epoch: 0, rowsConsumed: 0, shuffleSeed: 1 };

async function run(grads: Float32Array[], losses: number[], maxGradNorm?: number) {
  const params = new ParamSet({ w: [4] });
  params.view('w').set([1, 2, 3, 4]);
  const opt = createOptimizer(params, 0.1, { kind: 'adamw', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 });
  const weights: number[][] = [];
  const metrics: Record<string, number>[] = [];
  let s = 0;
  // The flat buffer is padded for alignment; the gradient of w is its first 4 values.
  const buf = new Float32Array(params.length);
  await runStepLoop<number>({
    what: 'test',
    params,
    optimizer: opt,
    lrAt: () => 0.1,
    maxGradNorm,
    stopAfter: grads.length,
    next: () => ({ micro: [s], epoch: 0, epochEnd: false, cursor }),
    run: async (i): Promise<StepResult> => {
      buf.set(grads[i]!);
      return { loss: losses[i]!, metrics: {}, grads: buf };
    },
    weight: () => 1,
    onStep: (_step, m) => {
      metrics.push(m);
      weights.push([...params.view('w')]);
      s++;
    },
  });
  return { weights, metrics, buf };
}

test('a non-finite loss or gradient skips the update and is counted', async () => {
  const g = Float32Array.from([0.1, 0.1, 0.1, 0.1]);
  const bad = Float32Array.from([0.1, Infinity, 0.1, 0.1]);
  const { weights, metrics } = await run([g, g, bad, g], [1, NaN, 1, 1]);
  assert.notDeepEqual(weights[0], [1, 2, 3, 4], 'a finite step updates');
  assert.deepEqual(weights[1], weights[0], 'NaN loss: weights unchanged');
  assert.deepEqual(weights[2], weights[0], 'infinite gradient: weights unchanged');
  assert.notDeepEqual(weights[3], weights[2], 'training continues after a skipped step');
  assert.deepEqual(metrics.map((m) => m.nonfinite_steps), [0, 1, 2, 2]);
  assert.ok(!Number.isFinite(metrics[2]!.grad_norm!));
});

test('clipping: unset = max norm 1.0 (pre-clip norm reported); 0 = no clipping, norm still reported', async () => {
  const g = () => Float32Array.from([6, 8, 0, 0]); // norm 10
  const clipped = await run([g()], [1]);
  assert.equal(clipped.metrics[0]!.grad_norm, 10);
  assert.ok(Math.abs(Math.hypot(...clipped.buf.subarray(0, 4)) - 1) < 1e-5, `clipped to 1, got ${Math.hypot(...clipped.buf.subarray(0, 4))}`);
  const raw = await run([g()], [1], 0);
  assert.equal(raw.metrics[0]!.grad_norm, 10);
  assert.equal(Math.hypot(...raw.buf.subarray(0, 4)), 10);
});

test('one resume contract: step k > 0 needs the cursor and the optimizer state', () => {
  assert.throws(() => checkResume('runX', 3, { cursor: true, optimizerState: false }), /resuming at step 3 needs both/);
  assert.throws(() => checkResume('runX', 3, { cursor: false, optimizerState: true }), /resuming at step 3/);
  checkResume('runX', 0, { cursor: false, optimizerState: false });
  checkResume('runX', 3, { cursor: true, optimizerState: true });
});
