import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointError, CheckpointStore } from '../src/index.js';

test('versions are saved whole with hashed manifests, listed, verified and pruned', () => {
  const root = mkdtempSync(join(tmpdir(), 'juice-store-'));
  const store = CheckpointStore.open(root);
  for (const v of [1, 2, 3]) store.save('job-a', v, { files: { 'model.safetensors': new Uint8Array([v, 2, 3]), 'trainer_state.json': `{"step":${v}}` }, metadata: { step: v } });
  assert.deepEqual(store.list('job-a'), [1, 2, 3]);
  assert.equal(store.latest('job-a'), 3);
  const { manifest } = store.verify('job-a', 2);
  assert.equal(manifest.files.length, 2);
  assert.match(manifest.files[0]!.sha256, /^[0-9a-f]{64}$/);
  assert.throws(() => store.save('job-a', 2, { files: {} }), /already exists/);
  assert.deepEqual(store.prune('job-a', 1, new Set([1])), [2]);
  assert.deepEqual(store.list('job-a'), [1, 3]);
});

test('a corrupted file is DATA_LOSS naming it; a crash leftover is ignored and cleaned on open', () => {
  const root = mkdtempSync(join(tmpdir(), 'juice-store-'));
  const store = CheckpointStore.open(root);
  store.save('j', 7, { files: { 'w.bin': new Uint8Array(16) } });
  writeFileSync(join(store.dir('j', 7), 'w.bin'), new Uint8Array(16).fill(1));
  assert.throws(() => store.verify('j', 7), (e: unknown) => e instanceof CheckpointError && e.grpcCode === 'DATA_LOSS' && e.message.includes('w.bin'));
  // A crash mid-save leaves only a temp dir: not a version, removed by the next open.
  mkdirSync(join(root, 'j', '.tmp-8-999'));
  assert.deepEqual(store.list('j'), [7]);
  CheckpointStore.open(root);
  assert.ok(!readdirSync(join(root, 'j')).some((e) => e.startsWith('.tmp-')));
  assert.throws(() => store.verify('j', 9), (e: unknown) => e instanceof CheckpointError && e.grpcCode === 'NOT_FOUND');
  assert.ok(existsSync(store.dir('j', 7)));
});
