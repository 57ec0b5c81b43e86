// Standard errors, bootstrap and seeded streams.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bootstrapStderr, mean, meanInterval, pairedDifferenceInterval, sampleIndices, sampleStd, seededRng, sigmoid, stderrOfMean, studentTCdf, studentTQuantile } from '../src/index.js';

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

// Reference values from R 4.2 (qt, t.test), written down here rather than computed by juice:
//   qt(0.975, c(1,2,3,4,5,9,10,30,100)); qt(0.995, c(1,4)); qt(0.95, 7)
//   t.test(c(0.41,0.38,0.45))$conf.int; t.test(a, b, paired = TRUE)$conf.int
test('t quantiles match R qt (two-sided 95 % and 99 %, one-sided 95 %)', () => {
  const r975: [number, number][] = [[1, 12.70620473617], [2, 4.30265272975], [3, 3.18244630528], [4, 2.7764451052], [5, 2.57058183564], [9, 2.2621571628], [10, 2.22813885199], [30, 2.0422724563], [100, 1.98397151852]];
  for (const [df, q] of r975) assert.ok(Math.abs(studentTQuantile(0.975, df) - q) < 1e-9, `df ${df}: ${studentTQuantile(0.975, df)} vs ${q}`);
  assert.ok(Math.abs(studentTQuantile(0.995, 1) - 63.65674116287) < 1e-7);
  assert.ok(Math.abs(studentTQuantile(0.995, 4) - 4.60409487135) < 1e-9);
  assert.ok(Math.abs(studentTQuantile(0.95, 7) - 1.89457860509) < 1e-9);
  assert.ok(Math.abs(studentTQuantile(0.025, 4) + 2.7764451052) < 1e-9, 'symmetric');
  assert.ok(Math.abs(studentTQuantile(0.975, 1e6) - 1.959963985) < 1e-5, 'normal limit');
  assert.equal(studentTQuantile(0.5, 3), 0);
  assert.ok(Math.abs(studentTCdf(2.7764451052, 4) - 0.975) < 1e-12);
  assert.throws(() => studentTQuantile(1, 3), /p must be in/);
  assert.throws(() => studentTQuantile(0.9, 0), /degrees of freedom/);
});

test('mean interval and paired difference interval match R t.test', () => {
  const m = meanInterval([0.41, 0.38, 0.45]);
  assert.ok(Math.abs(m.low - 0.326093283982) < 1e-9 && Math.abs(m.high - 0.500573382685) < 1e-9, `${m.low} ${m.high}`);
  assert.equal(m.n, 3);
  const a = [0.4, 0.37, 0.44, 0.39];
  const b = [0.38, 0.36, 0.4, 0.4];
  const d = pairedDifferenceInterval(a, b);
  assert.ok(Math.abs(d.mean - 0.015) < 1e-12);
  assert.ok(Math.abs(d.low + 0.0181239513442) < 1e-9 && Math.abs(d.high - 0.0481239513442) < 1e-9, `${d.low} ${d.high}`);
  // Pairing matters: the unpaired intervals of a and b overlap far more than the paired one allows.
  const ua = meanInterval(a);
  assert.ok(ua.halfWidth > d.halfWidth);
  const one = meanInterval([0.5]);
  assert.equal(one.mean, 0.5);
  assert.ok(Number.isNaN(one.halfWidth), 'one seed has no interval');
  assert.throws(() => pairedDifferenceInterval([1, 2], [1]), /one of each per seed/);
  assert.throws(() => meanInterval([1, NaN]), /finite/);
});
