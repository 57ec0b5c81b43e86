// The machine's matmul throughput through onnxruntime (MLAS): the denominator of every efficiency ratio.
import { measureMatmulPeak } from '@juice/runtime';
import { table, type Section } from './types.js';

export const matmulPeakSection: Section = async (ctx) => {
  // A peak: the best of three 2-second windows, so a noisy neighbour does not flatter every ratio.
  let r = await measureMatmulPeak({ n: 2048, seconds: 2 });
  for (let i = 0; i < 2; i++) {
    const again = await measureMatmulPeak({ n: 2048, seconds: 2 });
    if (again.gflops > r.gflops) r = again;
  }
  ctx.results['matmul-peak.gflops'] = r.gflops;
  table([
    ['MatMul 2048x2048x2048 (fp32)', r.gflops, 'GFLOP/s'],
    ['median run', r.medianMs, 'ms'],
  ]);
};
