// The evaluator's cache of loaded checkpoints: reuse per directory, least-recently-used eviction beyond
// the capacity, never closing a model a run still holds, reloading a directory whose files changed, and
// the expected_sha256 pin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDefaultModel } from '@juice/models';
import { ModelCache, type LoadedLm } from '../src/model-cache.js';

const root = mkdtempSync(join(tmpdir(), 'juice-model-cache-'));
const corpus = Array.from({ length: 60 }, (_, i) => `${i} plus ${i % 7} is ${i + (i % 7)}`);
const [a, b, c] = ['a', 'b', 'c'].map((n, i) => {
  const dir = join(root, n);
  createDefaultModel(dir, { corpus, seed: i + 1 });
  return dir;
});

/** A closed model's scoring worker refuses work. */
async function isClosed(lm: LoadedLm): Promise<boolean> {
  await new Promise((r) => setTimeout(r, 50));
  return lm.scorer.run({}).then(
    () => false,
    (e: Error) => /after close|exited/.test(e.message),
  );
}

test('reuse, LRU eviction, held models survive eviction, changed files reload, sha pin', async () => {
  const cache = new ModelCache({ capacity: 2, maxBatch: 2, maxQueue: 16 });
  try {
    const la = await cache.acquire(a!);
    la.release();
    const lb = await cache.acquire(b!);
    lb.release();
    const again = await cache.acquire(a!);
    assert.equal(again.lm, la.lm, 'the same directory is served by the loaded model');
    again.release();
    assert.deepEqual(cache.loaded(), [a, b]);

    const lc = await cache.acquire(c!);
    assert.deepEqual(cache.loaded(), [c, a], 'b was least recently used');
    assert.ok(await isClosed(lb.lm), 'the evicted model is closed');

    // Held by a run: over capacity until released, and not closed meanwhile.
    const held = await cache.acquire(a!);
    const hb = await cache.acquire(b!);
    assert.equal(cache.loaded().length, 3);
    lc.release();
    assert.deepEqual(cache.loaded(), [b, a], 'the idle one goes first');
    assert.ok(!(await isClosed(held.lm)));
    held.release();
    hb.release();

    // Rewritten files (a trainer saving into the same directory) are loaded again.
    const later = new Date(Date.now() + 5000);
    utimesSync(join(a!, 'model.safetensors'), later, later);
    const reloaded = await cache.acquire(a!);
    assert.notEqual(reloaded.lm, held.lm);
    assert.ok(await isClosed(held.lm), 'the stale model is closed once nobody holds it');
    reloaded.release();

    await assert.rejects(cache.acquire(b!, 'f'.repeat(64)), (e: Error & { grpcCode?: string }) => e.grpcCode === 'FAILED_PRECONDITION' && /expected_sha256/.test(e.message));
    const pinned = await cache.acquire(b!, hb.lm.sha256.toUpperCase());
    pinned.release();
    await assert.rejects(cache.acquire(join(root, 'missing')), (e: Error & { grpcCode?: string }) => e.grpcCode === 'NOT_FOUND' && e.message.includes(join(root, 'missing')));
  } finally {
    await cache.close();
  }
});
