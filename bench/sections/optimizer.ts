// AdamW over one flat Float32Array (the trainer's optimizer), 12.5 M parameters.
import { benchAdamW } from '@juice/optim';
import { table, type Section } from './types.js';

export const optimizerSection: Section = async (ctx) => {
  const r = benchAdamW({ params: 12_500_000, iterations: 10 });
  ctx.results['optimizer.adamw_ms'] = r.medianMs;
  table([['AdamW step, 12.5 M params', r.medianMs, 'ms (median)']]);
};
