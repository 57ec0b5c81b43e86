import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SAMPLING, Rng, sampleSeed, sampleToken, StopStringMatcher, TokenHistory, type SamplingOptions } from '../src/index.js';

const logits = new Float32Array([1.0, 2.5, 0.3, 2.0, -1.0]);
const softmax = (x: ArrayLike<number>, t = 1) => {
  const m = Math.max(...Array.from(x));
  const e = Array.from(x, (v) => Math.exp((v - m) / t));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
};
const opts = (o: Partial<SamplingOptions>): SamplingOptions => ({ ...DEFAULT_SAMPLING, ...o });

function frequencies(o: SamplingOptions, draws = 40000, seed = 7n): number[] {
  const rng = new Rng(seed);
  const counts = new Array(logits.length).fill(0);
  for (let i = 0; i < draws; i++) counts[sampleToken(logits, o, new TokenHistory(), rng).token]++;
  return counts.map((c) => c / draws);
}

test('greedy picks the argmax and reports the raw log-softmax', () => {
  const r = sampleToken(logits, opts({ temperature: 0 }), new TokenHistory(), undefined);
  assert.equal(r.token, 1);
  assert.ok(Math.abs(r.logprob - Math.log(softmax(logits)[1]!)) < 1e-6);
});

test('sampling frequencies follow softmax(logits / T) (40k draws, within 0.01)', () => {
  for (const t of [1, 0.5]) {
    const f = frequencies(opts({ temperature: t }));
    softmax(logits, t).forEach((p, i) => assert.ok(Math.abs(f[i]! - p) < 0.01, `T=${t} token ${i}: ${f[i]} vs ${p}`));
  }
});

test('top-k, top-p and min-p restrict the support to the expected tokens', () => {
  const k2 = frequencies(opts({ topK: 2 }), 5000);
  assert.deepEqual(k2.map((f) => f > 0), [false, true, false, true, false]);
  const p = softmax(logits); // sorted: 1 (.45), 3 (.27), 0 (.18), 2, 4
  const topP = frequencies(opts({ topP: p[1]! + p[3]! + 0.01 }), 5000);
  assert.deepEqual(topP.map((f) => f > 0), [true, true, false, true, false]);
  const minP = frequencies(opts({ minP: 0.5 }), 5000); // keeps tokens with p >= 0.5 * p_max
  assert.deepEqual(minP.map((f) => f > 0), [false, true, false, true, false]);
  // Renormalised over {1, 3}.
  assert.ok(Math.abs(k2[1]! - p[1]! / (p[1]! + p[3]!)) < 0.03);
});

test('same seed, same tokens; sample seeds differ per index', () => {
  const run = (seed: bigint) => {
    const rng = new Rng(seed);
    return Array.from({ length: 50 }, () => sampleToken(logits, DEFAULT_SAMPLING, new TokenHistory(), rng).token);
  };
  assert.deepEqual(run(42n), run(42n));
  assert.notDeepEqual(run(42n), run(43n));
  assert.notEqual(sampleSeed(42n, 0), sampleSeed(42n, 1));
});

test('penalties: repetition divides positive logits, frequency/presence subtract per occurrence', () => {
  const h = new TokenHistory([1]);
  const rep = sampleToken(logits, opts({ temperature: 0, repetitionPenalty: 2 }), h, undefined);
  assert.equal(rep.token, 3, 'token 1 (2.5 -> 1.25) falls below token 3 (2.0)');
  const h2 = new TokenHistory();
  h2.push(1);
  h2.push(1);
  const freq = sampleToken(logits, opts({ temperature: 0, frequencyPenalty: 0.3 }), h2, undefined);
  assert.equal(freq.token, 3, '2.5 - 2*0.3 = 1.9 < 2.0');
  const pres = sampleToken(logits, opts({ temperature: 0, presencePenalty: 0.3 }), h2, undefined);
  assert.equal(pres.token, 1, '2.5 - 0.3 = 2.2 > 2.0');
});

test('top alternatives are sorted and processed log-probs renormalise over the kept set', () => {
  const r = sampleToken(logits, opts({ temperature: 0, topLogprobs: 3 }), new TokenHistory(), undefined);
  assert.deepEqual(r.top!.ids, [1, 3, 0]);
  const pk = sampleToken(logits, opts({ topK: 2, processedLogprobs: true, topLogprobs: 2 }), new TokenHistory(), new Rng(1n));
  const sum = pk.top!.logprobs.reduce((a, b) => a + Math.exp(b), 0);
  assert.ok(Math.abs(sum - 1) < 1e-9);
});

test('suppressed tokens (EOS before min_new_tokens) are never picked', () => {
  const r = sampleToken(logits, opts({ temperature: 0 }), new TokenHistory(), undefined, undefined, new Set([1]));
  assert.equal(r.token, 3);
});

test('stop strings: held-back prefixes, match across pieces, include option', () => {
  const m = new StopStringMatcher(['###', '\n\n']);
  assert.deepEqual(m.push('answer #'), { emit: 'answer ' });
  assert.deepEqual(m.push('#'), { emit: '' });
  assert.deepEqual(m.push('# tail'), { emit: '', matched: '###' });
  const m2 = new StopStringMatcher(['END'], true);
  assert.deepEqual(m2.push('abcEN'), { emit: 'abc' });
  assert.deepEqual(m2.push('Dxyz'), { emit: 'END', matched: 'END' });
  const m3 = new StopStringMatcher(['zz']);
  assert.deepEqual(m3.push('abz'), { emit: 'ab' });
  assert.equal(m3.flush(), 'z');
});
