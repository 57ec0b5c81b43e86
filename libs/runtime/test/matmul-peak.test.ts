import { test } from 'node:test';
import assert from 'node:assert/strict';
import { measureMatmulPeak } from '../src/index.js';

test('measureMatmulPeak returns a plausible positive GFLOP/s', async () => {
  const r = await measureMatmulPeak({ n: 128, threads: 1, seconds: 0.2 });
  assert.equal(r.n, 128);
  assert.ok(r.runs >= 3);
  assert.ok(r.medianMs > 0);
  assert.ok(r.gflops > 0.1 && r.gflops < 100_000, `gflops ${r.gflops}`);
});
