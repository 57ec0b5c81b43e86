// Aggregation statistics and the seeded random streams behind few-shot selection and bootstrap.
import { createHash } from 'node:crypto';

/** A uniform [0, 1) stream (mulberry32): small, fast, and identical on every platform. */
export type Rng = () => number;

/** A stream seeded from any labelled key, so independent uses (doc 7's few-shot, bootstrap) never share state. */
export function seededRng(...key: (string | number | bigint)[]): Rng {
  let a = createHash('sha256').update(key.map(String).join('\u0000')).digest().readUInt32LE(0);
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `k` distinct indices of [0, n) in random order: a partial Fisher-Yates over a sparse swap map,
 * O(k) per call, because it runs once per document over pools of thousands.
 */
export function sampleIndices(n: number, k: number, rng: Rng): number[] {
  const swapped = new Map<number, number>();
  const at = (i: number) => swapped.get(i) ?? i;
  const m = Math.min(k, n);
  const out: number[] = [];
  for (let i = 0; i < m; i++) {
    const j = i + Math.floor(rng() * (n - i));
    const vi = at(i);
    const vj = at(j);
    out.push(vj);
    swapped.set(j, vi);
    swapped.set(i, vj);
  }
  return out;
}

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample standard deviation (n − 1 denominator, as lm-eval's sample_stddev). NaN for n < 2. */
export function sampleStd(xs: readonly number[]): number {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) ** 2;
  return Math.sqrt(s / (xs.length - 1));
}

/** Standard error of the mean: sample std / √n (lm-eval mean_stderr). NaN for n < 2. */
export function stderrOfMean(xs: readonly number[]): number {
  return sampleStd(xs) / Math.sqrt(xs.length);
}

export const BOOTSTRAP_RESAMPLES = 200;

/**
 * Bootstrap standard error of an aggregate that is not a plain mean (perplexity = exp of a
 * token-weighted mean, bits per byte): resample documents with replacement `resamples` times,
 * recompute, and take the sample std of the replicates. Non-finite replicates are skipped.
 */
export function bootstrapStderr<T>(items: readonly T[], aggregate: (sample: readonly T[]) => number, rng: Rng, resamples = BOOTSTRAP_RESAMPLES): number {
  const n = items.length;
  if (n < 2) return NaN;
  const reps: number[] = [];
  const sample: T[] = new Array(n);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < n; i++) sample[i] = items[Math.floor(rng() * n)]!;
    const v = aggregate(sample);
    if (Number.isFinite(v)) reps.push(v);
  }
  return sampleStd(reps);
}

/** σ(x), computed without overflow for large |x|. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}
