import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSession, WorkerSession, ExecutionProviderUnavailableError } from '../src/index.js';
import { addFixture, castFixture, matmulFixture, slowFixture } from './fixtures/models.js';

test('WorkerSession gives outputs identical to Session', async () => {
  const a = Float32Array.from({ length: 5 * 7 }, (_, i) => Math.cos(i * 0.3));
  const b = Float32Array.from({ length: 7 * 3 }, (_, i) => Math.sin(i * 0.7));
  const local = await createSession(matmulFixture(), { intraOpThreads: 1 });
  const remote = await WorkerSession.create(matmulFixture(), { intraOpThreads: 1 });
  try {
    assert.deepEqual(remote.inputNames, ['A', 'B']);
    const feeds = { A: { data: a, dims: [5, 7] }, B: { data: b, dims: [7, 3] } };
    const want = await local.run(feeds);
    const got = await remote.run(feeds);
    assert.deepEqual(got.Y.dims, want.Y.dims);
    assert.equal(got.Y.type, 'float32');
    assert.deepEqual(new Uint32Array((got.Y.data as Float32Array).buffer), new Uint32Array((want.Y.data as Float32Array).buffer));
    assert.equal(a.length, 35, 'inputs are copied by default, the caller keeps them');
  } finally {
    await local.release();
    await remote.close();
  }
});

test('WorkerSession queues runs, copies views, transfers on request, reports errors', async () => {
  const w = await WorkerSession.create(addFixture());
  try {
    const flat = new Float32Array(1 << 16);
    flat.set([1, 2, 3, 4, 5, 6], 100);
    const runs = [0, 1, 2, 3].map((k) => w.run({ X: flat.subarray(100, 106), Y: new Float32Array(6).fill(k) }, ['Sum']));
    assert.equal(w.queued, 4);
    const results = await Promise.all(runs);
    results.forEach((r, k) => assert.deepEqual([...(r.Sum.data as Float32Array)], [1, 2, 3, 4, 5, 6].map((x) => x + k)));
    const moved = new Float32Array(6).fill(1);
    await w.run({ X: moved, Y: new Float32Array(6) }, undefined, { transferInputs: true });
    assert.equal(moved.length, 0, 'transferred input is detached');
    await assert.rejects(w.run({ X: new Float32Array(5), Y: new Float32Array(6) }), /input "X" has shape \[2, 3\]/);
    const cast = await WorkerSession.create(castFixture());
    const out = await cast.run({ I: new BigInt64Array([7n, 8n]) });
    assert.deepEqual([...(out.F.data as Float32Array)], [7, 8]);
    await cast.close();
  } finally {
    await w.close();
    await w.close();
  }
  await assert.rejects(w.run({}), /after close/);
  await assert.rejects(WorkerSession.create(addFixture(), { executionProvider: 'cuda' }), (e: Error) => e.name === ExecutionProviderUnavailableError.name && /cuda12/.test(e.message));
});

/** Runs `job` while a 10 ms setInterval records how often it got to run. */
async function tickWhile(job: () => Promise<unknown>): Promise<{ elapsed: number; ticks: number; maxGap: number }> {
  let ticks = 0;
  let maxGap = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
    ticks++;
  }, 10);
  const start = performance.now();
  await job();
  const elapsed = performance.now() - start;
  clearInterval(timer);
  maxGap = Math.max(maxGap, performance.now() - last);
  return { elapsed, ticks, maxGap };
}

test('the event loop keeps ticking while the worker runs a ~1 s job (and is blocked without it)', async (t) => {
  const n = 512;
  // A permutation matrix: its powers stay exact 0/1, so the chain never reaches subnormal floats
  // (which slow MLAS down ~20x and would wreck the calibration).
  const x = new Float32Array(n * n);
  for (let i = 0; i < n; i++) x[i * n + ((i + 1) % n)] = 1;
  // Calibrate the chain length on this machine so the job takes about a second.
  const probe = await createSession(slowFixture(n, 8), { intraOpThreads: 1 });
  await probe.run({ X: x });
  const t0 = performance.now();
  await probe.run({ X: x });
  const perMatmulMs = (performance.now() - t0) / 8;
  await probe.release();
  const k = Math.max(8, Math.min(3000, Math.round(1000 / perMatmulMs)));

  const w = await WorkerSession.create(slowFixture(n, k), { intraOpThreads: 1 });
  try {
    const r = await tickWhile(() => w.run({ X: x }));
    t.diagnostic(`worker: ${k} matmuls in ${r.elapsed.toFixed(0)} ms, ${r.ticks} ticks, longest gap ${r.maxGap.toFixed(0)} ms`);
    assert.ok(r.elapsed > 200, `the job should be long enough to matter (took ${r.elapsed.toFixed(0)} ms)`);
    assert.ok(r.ticks >= (r.elapsed / 10) * 0.2, `setInterval(10ms) ticked ${r.ticks} times in ${r.elapsed.toFixed(0)} ms`);
    assert.ok(r.maxGap < 200, `longest gap between ticks ${r.maxGap.toFixed(0)} ms`);
  } finally {
    await w.close();
  }

  // Control: the same kind of job on this thread stalls the timer for its whole duration.
  const local = await createSession(slowFixture(n, Math.max(8, Math.round(k / 4))), { intraOpThreads: 1 });
  try {
    const r = await tickWhile(() => local.run({ X: x }));
    t.diagnostic(`main thread: ${r.elapsed.toFixed(0)} ms, ${r.ticks} ticks, longest gap ${r.maxGap.toFixed(0)} ms`);
    assert.ok(r.maxGap >= r.elapsed * 0.8, `a main-thread run should block the loop (gap ${r.maxGap.toFixed(0)} of ${r.elapsed.toFixed(0)} ms)`);
  } finally {
    await local.release();
  }
});
