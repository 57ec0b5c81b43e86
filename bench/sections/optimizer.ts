// AdamW, RMSprop and global-norm clipping over one flat Float32Array of 13.2 M parameters (the train-step
// model's size), against the memory bandwidth of a Float32Array copy measured in the same rounds.
import { benchOptimizers } from '@juice/optim';
import { table, type Section } from './types.js';

export const optimizerSection: Section = async (ctx) => {
  const r = benchOptimizers({ params: 13_200_000, rounds: 8 });
  ctx.results['optimizer.adamw_ms'] = r.ms.adamwSimd;
  ctx.results['optimizer.adamw_js_ms'] = r.ms.adamwJs;
  ctx.results['optimizer.rmsprop_ms'] = r.ms.rmspropSimd;
  ctx.results['optimizer.clip_norm_ms'] = r.ms.clipNorm;
  ctx.results['optimizer.clip_scale_ms'] = r.ms.clipScale;
  ctx.results['optimizer.adamw_gbps'] = r.gbps.adamw;
  ctx.results['optimizer.copy_gbps'] = r.gbps.copy;
  ctx.results['optimizer.adamw_to_copy_bandwidth'] = r.gbps.adamw / r.gbps.copy;
  table([
    ['AdamW step, 13.2 M params (WebAssembly SIMD)', r.ms.adamwSimd, 'ms (best of 8 interleaved rounds)'],
    ['AdamW step, float64 JS loop (before)', r.ms.adamwJs, `ms (${(r.ms.adamwJs / r.ms.adamwSimd).toFixed(1)}x slower)`],
    ['RMSprop step (SIMD)', r.ms.rmspropSimd, 'ms'],
    ['clip: global norm only', r.ms.clipNorm, 'ms'],
    ['clip: norm + scaling', r.ms.clipScale, 'ms'],
    ['AdamW memory traffic (7 x 4 B/param)', r.gbps.adamw, 'GB/s'],
    ['Float32Array copy (2 x 4 B/elem)', r.gbps.copy, 'GB/s'],
    ['AdamW / copy bandwidth', `${((100 * r.gbps.adamw) / r.gbps.copy).toFixed(0)}%`, ''],
  ]);
};
