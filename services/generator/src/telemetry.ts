// The generator's own metrics (the kit adds per-RPC spans, call counts and latencies): tokens produced
// and the engine's queue depth and running rows, read from the generation worker's periodic stats.
import { meter } from '@juice/service-kit';
import type { WorkerEngine } from '@juice/runtime';

export interface GeneratorMetrics {
  tokens(n: number, attrs: { rpc: string }): void;
}

/** Call inside build(): instruments made before telemetry starts would stay no-ops. */
export function generatorMetrics(engine: WorkerEngine): GeneratorMetrics {
  const tokens = meter.createCounter('juice.generator.tokens', { description: 'tokens generated' });
  meter.createObservableGauge('juice.generator.queue_depth', { description: 'samples waiting to join the batch' }).addCallback((o) => o.observe(engine.stats.queueDepth));
  meter.createObservableGauge('juice.generator.active_rows', { description: 'sequences in the running batch' }).addCallback((o) => o.observe(engine.stats.activeRows));
  return { tokens: (n, attrs) => tokens.add(n, attrs) };
}
