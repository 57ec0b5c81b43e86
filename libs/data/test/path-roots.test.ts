import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataFileError, PathRoots, describeJsonError, fileDigest, jsonSyntaxError, loadRows, requestModelDir, setDataRoots } from '../src/index.js';

const base = mkdtempSync(join(tmpdir(), 'juice-roots-'));
const root = join(base, 'root');
const outside = join(base, 'outside');
mkdirSync(root);
mkdirSync(outside);
writeFileSync(join(root, 'ok.jsonl'), '{"a": 1}\n');
writeFileSync(join(outside, 'secret.jsonl'), '{"secret": "hunter2"}\n');
symlinkSync('/etc/passwd', join(root, 'passwd.jsonl'));
symlinkSync(outside, join(root, 'escape'));
symlinkSync('/proc/self/environ', join(root, 'environ.jsonl'));
execFileSync('mkfifo', [join(root, 'fifo.jsonl')]);
after(() => {
  setDataRoots(undefined);
  rmSync(base, { recursive: true, force: true });
});

const code = (fn: () => unknown) => {
  try {
    fn();
    return 'OK';
  } catch (e) {
    assert.ok(e instanceof DataFileError, String(e));
    return e.grpcCode;
  }
};

test('paths outside the roots are PERMISSION_DENIED whether or not they exist; symlinks are resolved first', () => {
  const roots = new PathRoots([root]);
  assert.equal(code(() => roots.resolve(join(root, 'ok.jsonl'), 'file')), 'OK');
  for (const p of ['/etc/passwd', '/root/.ssh/id_rsa', '/no/such/file', join(root, '..', 'outside', 'secret.jsonl'), join(root, 'passwd.jsonl'), join(root, 'escape', 'secret.jsonl'), join(root, 'escape', 'missing.jsonl'), join(root, 'nope', '..', '..', 'outside', 'secret.jsonl')]) {
    assert.equal(code(() => roots.resolve(p, 'file')), 'PERMISSION_DENIED', p);
  }
  // Inside the roots a missing file is NOT_FOUND (nothing outside is revealed by saying so).
  assert.equal(code(() => roots.resolve(join(root, 'missing.jsonl'), 'file')), 'NOT_FOUND');
});

test('only regular files: FIFOs, devices and /proc are refused even under a root', () => {
  const roots = new PathRoots([root]);
  assert.equal(code(() => roots.resolve(join(root, 'fifo.jsonl'), 'file')), 'INVALID_ARGUMENT');
  assert.equal(code(() => roots.resolve(join(root, 'environ.jsonl'), 'file')), 'PERMISSION_DENIED');
  const everywhere = new PathRoots(['/']);
  for (const p of ['/dev/zero', '/proc/self/environ', '/sys/kernel']) assert.equal(code(() => everywhere.resolve(p, 'file-or-directory')), 'PERMISSION_DENIED', p);
  assert.equal(code(() => everywhere.resolve(root, 'file')), 'INVALID_ARGUMENT');
});

test('the readers go through the process roots: datasets and digests outside them are refused, content never quoted', async () => {
  setDataRoots([root]);
  try {
    assert.equal((await loadRows({ path: join(root, 'ok.jsonl') })).length, 1);
    await assert.rejects(loadRows({ path: join(root, 'passwd.jsonl') }), (e: unknown) => e instanceof DataFileError && e.grpcCode === 'PERMISSION_DENIED' && !e.message.includes('root:x'));
    await assert.rejects(fileDigest('/etc/passwd'), (e: unknown) => e instanceof DataFileError && e.grpcCode === 'PERMISSION_DENIED');
    await assert.rejects(fileDigest(join(root, 'fifo.jsonl')), (e: unknown) => e instanceof DataFileError && e.grpcCode === 'INVALID_ARGUMENT');
    // A model directory whose config.json links out of the roots is refused before any loader opens it.
    const model = join(root, 'model');
    mkdirSync(model);
    symlinkSync('/etc/passwd', join(model, 'config.json'));
    assert.throws(() => requestModelDir(model, 'spec.model.hf_dir'), (e: unknown) => e instanceof DataFileError && e.grpcCode === 'PERMISSION_DENIED' && e.message.includes('spec.model.hf_dir'));
    assert.throws(() => requestModelDir('/etc', 'spec.model.hf_dir'), (e: unknown) => e instanceof DataFileError && e.grpcCode === 'PERMISSION_DENIED');
  } finally {
    setDataRoots(undefined);
  }
  // Without roots (in-process library use) files anywhere are read, but still only regular files.
  await assert.rejects(fileDigest('/dev/zero'), (e: unknown) => e instanceof DataFileError && e.grpcCode === 'PERMISSION_DENIED');
});

test('a non-JSON line is named by file, line and column, never quoted', async () => {
  const p = join(root, 'passwd-copy.jsonl');
  writeFileSync(p, '{"a": 1}\nroot:x:0:0:root:/root:/bin/bash\n');
  await assert.rejects(loadRows({ path: p }), (e: unknown) => e instanceof DataFileError && /passwd-copy\.jsonl line 2: not valid JSON at column 1: expected a value/.test(e.message) && !e.message.includes('root:x'));
  assert.deepEqual(jsonSyntaxError('{"a": 1,}'), { column: 9, problem: 'expected a double-quoted property name' });
  assert.deepEqual(jsonSyntaxError('{"a": tru}'), { column: 7, problem: 'expected a value (object, array, string, number, true, false or null)' });
  assert.equal(jsonSyntaxError('[1, {"b": [null, -1.5e3, "\\u00e9"]}]'), undefined);
  assert.match(describeJsonError('{"a": 1} x'), /column 10: unexpected text after the JSON value/);
  assert.match(describeJsonError('SHELL=/bin/bash'), /^not valid JSON at column 1:/);
});
