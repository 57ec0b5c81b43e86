import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdaptiveKlController, gae, klShapedRewards, rlooAdvantages, RunningMoments, whiten } from '../src/index.js';

test('RLOO baseline is the mean of the other samples of the same prompt', () => {
  assert.deepEqual(rlooAdvantages([1, 2, 3, 10, 10, 10], 3), [1 - 2.5, 2 - 2, 3 - 1.5, 0, 0, 0]);
  assert.throws(() => rlooAdvantages([1, 2], 1), /at least 2 samples/);
});

test('GAE with γ=1, λ=1 gives reward-to-go minus value; λ=0 gives one-step TD errors', () => {
  const r = [0, 0, 1];
  const v = [0.2, 0.5, 0.7];
  assert.deepEqual(gae(r, v, 1, 1).advantages.map((x) => +x.toFixed(12)), [0.8, 0.5, 0.3]);
  assert.deepEqual(gae(r, v, 1, 0).advantages.map((x) => +x.toFixed(12)), [0.3, 0.2, 0.3]);
  assert.deepEqual(gae(r, v, 1, 1).returns.map((x) => +x.toFixed(12)), [1, 1, 1]);
});

test('whitening ignores masked entries; KL shaping puts the score on the last token', () => {
  const w = whiten(Float32Array.from([1, 2, 3, 100]), Float32Array.from([1, 1, 1, 0]));
  assert.ok(Math.abs(w[0]! + 1) < 1e-6 && Math.abs(w[1]!) < 1e-6 && Math.abs(w[2]! - 1) < 1e-6 && w[3] === 0);
  assert.deepEqual(klShapedRewards(2, [-1, -1], [-1.5, -0.5], 0.1).map((x) => +x.toFixed(12)), [-0.05, 2.05]);
});

test('running moments match the batch statistics and survive a save/restore', () => {
  const m = new RunningMoments();
  m.update([1, 2, 3]);
  const m2 = RunningMoments.restore(m.state());
  m2.update([4, 5]);
  assert.equal(m2.mean, 3);
  assert.ok(Math.abs(m2.std - Math.sqrt(2.5)) < 1e-12);
  const kl = new AdaptiveKlController(0.1, 6, 10000);
  kl.update(12, 100); // KL above target: the coefficient grows
  assert.ok(kl.value > 0.1);
});
