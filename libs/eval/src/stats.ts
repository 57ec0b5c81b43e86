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

/** log Γ(x) for x > 0 (Lanczos, g = 7, 9 terms: ~15 significant digits). */
export function logGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let a = c[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the incomplete beta (modified Lentz; Numerical Recipes' betacf). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 500; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return h;
}

/** The regularized incomplete beta I_x(a, b). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  // The continued fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry otherwise.
  return x < (a + 1) / (a + b + 2) ? (front * betaContinuedFraction(a, b, x)) / a : 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** P(T ≤ t) for Student's t with `df` degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/**
 * The p-quantile of Student's t with `df` > 0 degrees of freedom (e.g. p = 0.975 for a two-sided 95 %
 * interval): the CDF inverted by bisection, to ~1e-12 (R's qt agrees to 1e-9 in the tests).
 */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`t quantile: p must be in (0, 1), got ${p}`);
  if (!(df > 0)) throw new RangeError(`t quantile: degrees of freedom must be > 0, got ${df}`);
  if (p === 0.5) return 0;
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  let lo = 0;
  let hi = 1;
  while (studentTCdf(hi, df) < p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-13 * Math.max(1, hi); i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** A mean with its two-sided confidence interval over independent runs (e.g. seeds). */
export interface MeanInterval {
  mean: number;
  /** Half-width t_{(1+level)/2, n−1} · s / √n; NaN for n < 2 (one run says nothing about spread). */
  halfWidth: number;
  low: number;
  high: number;
  n: number;
  /** Sample standard deviation (n − 1). */
  std: number;
  level: number;
}

/** Mean ± t-interval of `xs` (non-finite values are refused: a failed seed is not a number to average). */
export function meanInterval(xs: readonly number[], level = 0.95): MeanInterval {
  if (!(level > 0 && level < 1)) throw new RangeError(`confidence level must be in (0, 1), got ${level}`);
  if (xs.some((x) => !Number.isFinite(x))) throw new RangeError(`a confidence interval needs finite values, got ${xs.join(', ')}`);
  const n = xs.length;
  const m = mean(xs);
  const std = sampleStd(xs);
  const halfWidth = n < 2 ? NaN : (studentTQuantile((1 + level) / 2, n - 1) * std) / Math.sqrt(n);
  return { mean: m, halfWidth, low: m - halfWidth, high: m + halfWidth, n, std, level };
}

/**
 * The paired difference a − b (a[i] and b[i] from the same seed: same data order, same starting
 * checkpoint) with its t-interval: the seed-to-seed variation both share cancels, so this is the
 * interval to read when asking whether an arm beats the control.
 */
export function pairedDifferenceInterval(a: readonly number[], b: readonly number[], level = 0.95): MeanInterval {
  if (a.length !== b.length) throw new RangeError(`paired values need one of each per seed, got ${a.length} and ${b.length}`);
  return meanInterval(
    a.map((x, i) => x - b[i]!),
    level,
  );
}
