import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointError, CheckpointStore, type Manifest } from '../src/index.js';

const newRoot = () => mkdtempSync(join(tmpdir(), 'juice-store-'));
const isErr = (code: string, ...parts: string[]) => (e: unknown) => {
  assert.ok(e instanceof CheckpointError, String(e));
  assert.equal(e.grpcCode, code, e.message);
  for (const p of parts) assert.ok(e.message.includes(p), `${p} in: ${e.message}`);
  return true;
};

test('versions are saved whole with a hashed manifest, listed, loaded with verification, and pruned', () => {
  const root = newRoot();
  const store = CheckpointStore.open(root);
  assert.deepEqual(store.list('job-a'), []);
  assert.equal(store.latest('job-a'), undefined);
  for (const v of [3, 1, 2, 10]) {
    store.save('job-a', v, { files: { 'model.safetensors': new Uint8Array([v, 2, 3]), 'state/trainer_state.json': `{"step":${v}}` }, metadata: { step: v, loss: 0.5 } });
  }
  assert.deepEqual(store.list('job-a'), [1, 2, 3, 10]);
  assert.equal(store.latest('job-a'), 10);
  assert.deepEqual(readdirSync(join(root, 'job-a')), ['v000000000001', 'v000000000002', 'v000000000003', 'v000000000010']);

  const loaded = store.load('job-a', 2);
  assert.equal(loaded.dir, join(root, 'job-a', 'v000000000002'));
  assert.equal(readFileSync(loaded.files.get('state/trainer_state.json')!, 'utf8'), '{"step":2}');
  const onDisk = JSON.parse(readFileSync(join(loaded.dir, 'manifest.json'), 'utf8')) as Manifest;
  assert.deepEqual(onDisk, loaded.manifest);
  assert.equal(onDisk.version, 2);
  assert.ok(!Number.isNaN(Date.parse(onDisk.created_at)));
  assert.deepEqual(onDisk.metadata, { step: 2, loss: 0.5 });
  assert.deepEqual(onDisk.files, [
    { path: 'model.safetensors', sha256: createHash('sha256').update(new Uint8Array([2, 2, 3])).digest('hex'), size: 3 },
    { path: 'state/trainer_state.json', sha256: createHash('sha256').update('{"step":2}').digest('hex'), size: 10 },
  ]);

  assert.throws(() => store.save('job-a', 2, { files: {} }), isErr('ALREADY_EXISTS', 'job-a v2 already exists'));
  assert.throws(() => store.save('../evil', 1, { files: {} }), isErr('INVALID_ARGUMENT', 'namespace'));
  assert.throws(() => store.save('job-a', -1, { files: {} }), isErr('INVALID_ARGUMENT', 'version'));
  assert.throws(() => store.save('job-a', 11, { files: { '../x': 'y' } }), isErr('INVALID_ARGUMENT', '"../x"'));
  assert.throws(() => store.save('job-a', 11, { files: { 'manifest.json': 'y' } }), isErr('INVALID_ARGUMENT', 'reserved'));
  assert.deepEqual(store.list('job-a'), [1, 2, 3, 10], 'rejected saves leave nothing behind');
  assert.ok(!readdirSync(join(root, 'job-a')).some((e) => e.startsWith('.tmp-')));

  assert.deepEqual(store.prune('job-a', 2, new Set([1])), [2]);
  assert.deepEqual(store.list('job-a'), [1, 3, 10]);
  assert.deepEqual(store.prune('job-a', 0), [1, 3, 10]);
  assert.deepEqual(store.list('job-a'), []);
  assert.deepEqual(readdirSync(join(root, 'job-a')), []);
});

test('a corrupted, truncated or missing file fails load with DATA_LOSS naming it; an absent version is NOT_FOUND', () => {
  const store = CheckpointStore.open(newRoot());
  store.save('j', 7, { files: { 'w.bin': new Uint8Array(16), 'tok/tokenizer.json': '{}' } });
  const w = join(store.dir('j', 7), 'w.bin');
  writeFileSync(w, new Uint8Array(16).fill(1));
  assert.throws(() => store.load('j', 7), isErr('DATA_LOSS', w, 'sha256'));
  writeFileSync(w, new Uint8Array(15));
  assert.throws(() => store.load('j', 7), isErr('DATA_LOSS', w, '15 bytes, manifest says 16'));
  writeFileSync(w, new Uint8Array(16));
  store.load('j', 7);
  const tok = join(store.dir('j', 7), 'tok', 'tokenizer.json');
  rmSync(tok);
  assert.throws(() => store.load('j', 7), isErr('DATA_LOSS', tok, 'missing'));
  writeFileSync(tok, '{}');
  appendFileSync(join(store.dir('j', 7), 'manifest.json'), 'garbage');
  assert.throws(() => store.load('j', 7), isErr('DATA_LOSS', 'manifest.json'));
  assert.throws(() => store.load('j', 9), isErr('NOT_FOUND', 'j v9 does not exist', 'versions: [7]'));
});

test('crash leftovers: a temp dir is never a version and is removed on open unless its writer still runs', () => {
  const root = newRoot();
  const store = CheckpointStore.open(root);
  store.save('j', 1, { files: { 'a.txt': 'a' } });
  // A writer that crashed mid-save (pid 2^22+1 is above Linux's pid_max default, so surely dead).
  const dead = join(root, 'j', `.tmp-2-${2 ** 22 + 1}-0`);
  mkdirSync(dead);
  writeFileSync(join(dead, 'a.txt'), 'half');
  // A writer in another live process (our parent) keeps its temp dir.
  const live = join(root, 'j', `.tmp-3-${process.ppid}-0`);
  mkdirSync(live);
  assert.deepEqual(store.list('j'), [1]);
  assert.equal(store.latest('j'), 1);
  CheckpointStore.open(root);
  assert.ok(!existsSync(dead), 'dead writer temp dir removed');
  assert.ok(existsSync(live), 'live writer temp dir kept');
  // The version can be written after the crash.
  store.save('j', 2, { files: { 'a.txt': 'b' } });
  assert.equal(readFileSync(store.load('j', 2).files.get('a.txt')!, 'utf8'), 'b');
});
