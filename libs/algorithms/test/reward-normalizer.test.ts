// RFT's reward scaling: running std (optionally mean) over every score seen so far, then clipping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RewardNormalizer } from '../src/index.js';

const std = (xs: number[]) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
};

test('running_std divides by the std of all scores so far; running_mean_std also centres; none leaves them', () => {
  const a = [1, 3, 5, 7];
  const b = [10, -2];
  const n = new RewardNormalizer('running_std');
  assert.deepEqual(n.normalize(a).map((x) => +x.toFixed(12)), a.map((x) => +(x / std(a)).toFixed(12)));
  const second = n.normalize(b);
  const all = [...a, ...b];
  second.forEach((x, i) => assert.ok(Math.abs(x - b[i]! / std(all)) < 1e-12));
  const c = new RewardNormalizer('running_mean_std');
  const mean = a.reduce((p, q) => p + q, 0) / a.length;
  c.normalize(a).forEach((x, i) => assert.ok(Math.abs(x - (a[i]! - mean) / std(a)) < 1e-12));
  assert.deepEqual(new RewardNormalizer('none').normalize(a), a);
});

test('clipping bounds the normalised rewards; a constant batch is not blown up', () => {
  assert.deepEqual(new RewardNormalizer('none', 2).normalize([-5, 1, 5]), [-2, 1, 2]);
  assert.deepEqual(new RewardNormalizer('running_std').normalize([3, 3, 3]), [3, 3, 3]);
});
