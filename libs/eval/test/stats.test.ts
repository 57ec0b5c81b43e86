// Standard errors, bootstrap and seeded streams.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bootstrapStderr, mean, sampleIndices, sampleStd, seededRng, sigmoid, stderrOfMean } from '../src/index.js';

test('stderr of the mean: sample std / √n', () => {
  assert.equal(mean([1, 0, 1, 1]), 0.75);
  assert.equal(sampleStd([1, 0, 1, 1]), 0.5); // Σ(x−.75)² = .75, / 3 = .25
  assert.equal(stderrOfMean([1, 0, 1, 1]), 0.25);
  assert.ok(Number.isNaN(stderrOfMean([1])));
});

test('bootstrap stderr: seeded, zero for constant data, close to the analytic stderr of a mean', () => {
  const xs = Array.from({ length: 400 }, (_, i) => ((i * 7919) % 101) / 100);
  const b1 = bootstrapStderr(xs, mean, seededRng('b', 1));
  const b2 = bootstrapStderr(xs, mean, seededRng('b', 1));
  assert.equal(b1, b2);
  const analytic = stderrOfMean(xs);
  assert.ok(Math.abs(b1 - analytic) / analytic < 0.25, `${b1} vs ${analytic}`);
  assert.equal(bootstrapStderr([2, 2, 2], mean, seededRng('c')), 0);
});

test('seeded streams and index sampling', () => {
  const a = seededRng('x', 1n);
  const b = seededRng('x', 1n);
  const va = [a(), a(), a()];
  assert.deepEqual(va, [b(), b(), b()]);
  assert.ok(va.every((v) => v >= 0 && v < 1));
  const idx = sampleIndices(10, 10, seededRng('y'));
  assert.deepEqual([...idx].sort((p, q) => p - q), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(new Set(sampleIndices(1000, 50, seededRng('z'))).size, 50);
  assert.equal(sigmoid(0), 0.5);
  assert.ok(sigmoid(-1000) >= 0 && sigmoid(1000) === 1);
});
