// AdamW throughput on a realistic flat buffer; `npm run bench` reports it next to the ORT step time.
import { AdamW } from './adamw.js';

export interface AdamWBenchResult {
  params: number;
  /** Median wall time of one step. */
  medianMs: number;
  minMs: number;
  iterations: number;
}

export function benchAdamW(options: { params?: number; iterations?: number; warmup?: number } = {}): AdamWBenchResult {
  const n = options.params ?? 12_500_000;
  const iterations = options.iterations ?? 10;
  const warmup = options.warmup ?? 2;
  const params = new Float32Array(n);
  const grads = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    params[i] = ((i * 7919) % 1000) / 1000 - 0.5;
    grads[i] = ((i * 104729) % 997) / 997 - 0.5;
  }
  const opt = new AdamW(params, { lr: 1e-3, weightDecay: 0.01 });
  for (let i = 0; i < warmup; i++) opt.step(grads);
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    opt.step(grads);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { params: n, medianMs: times[Math.floor(times.length / 2)], minMs: times[0], iterations };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(benchAdamW());
}
