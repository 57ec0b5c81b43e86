// The machine's practical matmul peak through ORT (MLAS on CPU). The bench divides a training step's
// FLOP rate by this, so step efficiency is comparable across machines.
import { matmulModel } from './matmul-model.js';
import { createSession } from './session.js';
import type { ExecutionProviderName } from './providers.js';

export interface MatmulPeakOptions {
  /** Square size; default 1024. */
  n?: number;
  /** intra-op threads (default: ORT's choice, all cores). */
  threads?: number;
  /** Time budget for the timed repeats (after warm-up); default 2. At least 3 repeats run. */
  seconds?: number;
  executionProvider?: ExecutionProviderName;
}

export interface MatmulPeakResult {
  n: number;
  threads: number | 'default';
  /** 2·n³ / median run time. */
  gflops: number;
  medianMs: number;
  runs: number;
}

export async function measureMatmulPeak(options: MatmulPeakOptions = {}): Promise<MatmulPeakResult> {
  const n = options.n ?? 1024;
  const seconds = options.seconds ?? 2;
  const session = await createSession(matmulModel(n), {
    executionProvider: options.executionProvider ?? 'cpu',
    ...(options.threads !== undefined ? { intraOpThreads: options.threads } : {}),
    logSeverity: 'error',
  });
  try {
    const a = new Float32Array(n * n);
    const b = new Float32Array(n * n);
    for (let i = 0; i < a.length; i++) {
      a[i] = ((i * 7919) % 2001) / 1000 - 1;
      b[i] = ((i * 104729) % 1999) / 1000 - 1;
    }
    const feeds = { A: { data: a, dims: [n, n] }, B: { data: b, dims: [n, n] } };
    for (let i = 0; i < 2; i++) await session.run(feeds); // thread pool spin-up, first-touch of buffers
    const times: number[] = [];
    const start = performance.now();
    while (times.length < 3 || (performance.now() - start < seconds * 1000 && times.length < 10_000)) {
      const t0 = performance.now();
      await session.run(feeds);
      times.push(performance.now() - t0);
    }
    times.sort((x, y) => x - y);
    const medianMs = times[Math.floor(times.length / 2)];
    return { n, threads: options.threads ?? 'default', gflops: (2 * n ** 3) / (medianMs * 1e6), medianMs, runs: times.length };
  } finally {
    await session.release();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const n of [1024, 2048]) console.log(await measureMatmulPeak({ n }));
}
