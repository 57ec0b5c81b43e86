import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileDigest, DataFileError } from '../src/index.js';

test('fileDigest hashes contents (sha256 of "abc" is the FIPS 180-2 test vector)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'juice-digest-'));
  const p = join(dir, 'a.txt');
  writeFileSync(p, 'abc');
  const d = await fileDigest(p);
  assert.equal(d.sha256, 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(d.sizeBytes, 3);
});

test('fileDigest names the missing file and answers NOT_FOUND', async () => {
  await assert.rejects(fileDigest('/nonexistent/juice.jsonl'), (e: unknown) => e instanceof DataFileError && e.grpcCode === 'NOT_FOUND' && e.message.includes('/nonexistent/juice.jsonl'));
});
