// Optimizer and clipping throughput on a realistic flat buffer, against this machine's memory bandwidth
// measured in the same run (a Float32Array copy): `npm run bench` and the CI guard report the ratio.
import { AdamW } from './adamw.js';
import { clipGradNorm } from './clip.js';
import type { KernelChoice } from './optimizer.js';
import { RMSprop } from './rmsprop.js';

export interface AdamWBenchResult {
  params: number;
  /** Median wall time of one step. */
  medianMs: number;
  minMs: number;
  iterations: number;
}

function fill(n: number): { params: Float32Array; grads: Float32Array } {
  const params = new Float32Array(n);
  const grads = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    params[i] = ((i * 7919) % 1000) / 1000 - 0.5;
    grads[i] = ((i * 104729) % 997) / 997 - 0.5;
  }
  return { params, grads };
}

function timeIt(fn: () => void, iterations: number, warmup: number): number[] {
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b);
}

export function benchAdamW(options: { params?: number; iterations?: number; warmup?: number; kernel?: KernelChoice } = {}): AdamWBenchResult {
  const n = options.params ?? 13_200_000;
  const iterations = options.iterations ?? 10;
  const { params, grads } = fill(n);
  const opt = new AdamW(params, { lr: 1e-3, weightDecay: 0.01, kernel: options.kernel });
  const times = timeIt(() => opt.step(grads), iterations, options.warmup ?? 2);
  return { params: n, medianMs: times[Math.floor(times.length / 2)]!, minMs: times[0]!, iterations };
}

export interface OptimizerBenchResult {
  params: number;
  /** Best-of times (ms) per operation; `copy` is a Float32Array.set of the whole buffer. */
  ms: { adamwSimd: number; adamwJs: number; rmspropSimd: number; clipNorm: number; clipScale: number; copy: number };
  /** Memory traffic per operation over its best time (GB/s): AdamW reads p, g, m, v and writes p, m, v. */
  gbps: { adamw: number; copy: number };
}

/**
 * Every figure interleaved round by round (best of `rounds` each), so a neighbour process that slows
 * one round slows all operations alike and the ratios stay meaningful on a shared machine.
 */
export function benchOptimizers(options: { params?: number; rounds?: number; js?: boolean } = {}): OptimizerBenchResult {
  const n = options.params ?? 13_200_000;
  const rounds = options.rounds ?? 8;
  const { params, grads } = fill(n);
  const adamw = new AdamW(params, { lr: 1e-3, weightDecay: 0.01 });
  const adamwJs = options.js === false ? undefined : new AdamW(params.slice(), { lr: 1e-3, weightDecay: 0.01, kernel: 'js' });
  const rms = new RMSprop(params.slice(), { lr: 1e-3 });
  const dst = new Float32Array(n);
  const g2 = grads.slice();
  const best = { adamwSimd: Infinity, adamwJs: adamwJs ? Infinity : NaN, rmspropSimd: Infinity, clipNorm: Infinity, clipScale: Infinity, copy: Infinity };
  const time = (k: keyof typeof best, fn: () => void) => {
    const t0 = performance.now();
    fn();
    best[k] = Math.min(best[k], performance.now() - t0);
  };
  for (let r = 0; r < rounds + 1; r++) {
    time('copy', () => dst.set(params));
    time('adamwSimd', () => adamw.step(grads));
    if (adamwJs && r < 4) // the JS loop is slow; three timed rounds suffice
       time('adamwJs', () => adamwJs.step(grads));
    time('rmspropSimd', () => rms.step(grads));
    // clipGradNorm with a huge limit only measures the norm; with a tiny one, norm + scaling.
    time('clipNorm', () => clipGradNorm(g2, 1e30));
    time('clipScale', () => clipGradNorm(g2, 1e-3));
    // Round 0 is warm-up (page faults, the kernels' tier-up); its times are dropped.
    if (r === 0) for (const k of Object.keys(best) as (keyof typeof best)[]) if (!Number.isNaN(best[k])) best[k] = Infinity;
  }
  const gb = (bytes: number, ms: number) => bytes / (ms * 1e6);
  return { params: n, ms: best, gbps: { adamw: gb(7 * 4 * n, best.adamwSimd), copy: gb(2 * 4 * n, best.copy) } };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(benchOptimizers());
}
