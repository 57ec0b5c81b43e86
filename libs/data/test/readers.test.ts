import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { countRows, DataFileError, fileDigest, loadRows, readJsonlRows, readParquetRows, resolveDataFiles } from '../src/index.js';
import { tempDir, writeJsonl } from './helpers.js';

const CHAT_PARQUET = fileURLToPath(new URL('./fixtures/chat.parquet', import.meta.url));

test('JSONL rows stream in order with 1-based line numbers; blank lines are skipped but counted', async () => {
  const dir = tempDir();
  const p = join(dir, 'data.jsonl');
  writeFileSync(p, '\uFEFF{"a":1}\n\n{"a":2}\r\n{"a":3}');
  const rows = [];
  for await (const r of readJsonlRows(p)) rows.push(r);
  assert.deepEqual(rows, [
    { row: { a: 1 }, line: 1 },
    { row: { a: 2 }, line: 3 },
    { row: { a: 3 }, line: 4 },
  ]);
});

test('a bad JSONL line is reported as "<file> line <n>: not valid JSON"', async () => {
  const dir = tempDir();
  const p = join(dir, 'data.jsonl');
  const lines = Array.from({ length: 20 }, (_, i) => JSON.stringify({ i }));
  lines[16] = '{"i": 16,';
  writeFileSync(p, lines.join('\n'));
  await assert.rejects(loadRows({ path: p }), (e: unknown) => e instanceof DataFileError && e.grpcCode === 'INVALID_ARGUMENT' && /data\.jsonl line 17: not valid JSON at column \d+: /.test(e.message));
  writeFileSync(p, '{"i":0}\n[1,2]\n');
  await assert.rejects(loadRows({ path: p }), /data\.jsonl line 2: expected a JSON object per line, got an array/);
});

test('a directory is read in name order; stray non-data files are ignored; mixed formats are an error', async () => {
  const dir = tempDir();
  writeJsonl(dir, 'b.jsonl', [{ v: 'b0' }, { v: 'b1' }]);
  writeJsonl(dir, 'a.jsonl', [{ v: 'a0' }]);
  writeJsonl(dir, 'c.json', [{ v: 'c0' }]);
  writeFileSync(join(dir, 'README.md'), '# shards');
  const rows = await loadRows({ path: dir });
  assert.deepEqual(rows.map((r) => r.row['v']), ['a0', 'b0', 'b1', 'c0']);
  assert.deepEqual(rows.map((r) => r.source.index), [0, 1, 2, 3]);
  assert.equal(rows[2]!.source.row, 1);
  assert.equal(rows[2]!.source.line, 2);
  assert.ok(rows[2]!.source.file.endsWith('b.jsonl'));
  writeFileSync(join(dir, 'd.parquet'), '');
  await assert.rejects(resolveDataFiles(dir), /mixes formats/);
  assert.deepEqual((await resolveDataFiles(dir, 'jsonl')).files.map((f) => f.slice(dir.length + 1)), ['a.jsonl', 'b.jsonl', 'c.json']);
});

test('format comes from the extension unless explicit; unknown extensions and missing paths are named', async () => {
  const dir = tempDir();
  const p = join(dir, 'rows.txt');
  writeFileSync(p, '{"x":1}\n');
  await assert.rejects(loadRows({ path: p }), (e: unknown) => e instanceof DataFileError && e.message.includes('rows.txt') && e.message.includes('.parquet'));
  assert.deepEqual((await loadRows({ path: p, format: 'jsonl' })).map((r) => r.row), [{ x: 1 }]);
  assert.deepEqual((await loadRows({ path: p, format: 1 })).map((r) => r.row), [{ x: 1 }]); // juice.v1.DataFormat.JSONL
  await assert.rejects(loadRows({ path: join(dir, 'nope.jsonl') }), (e: unknown) => e instanceof DataFileError && e.grpcCode === 'NOT_FOUND');
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  await assert.rejects(loadRows({ path: empty }), /holds no/);
});

test('Parquet: the fixture reads as rows (INT64 as numbers, lists of structs as message lists)', async () => {
  const rows = await loadRows({ path: CHAT_PARQUET });
  assert.equal(rows.length, 5);
  assert.equal(await countRows({ path: CHAT_PARQUET }), 5);
  assert.deepEqual(rows[3]!.row, {
    id: 103,
    messages: [
      { role: 'user', content: 'What is 3+3?' },
      { role: 'assistant', content: '3+3=6' },
    ],
    system: null,
  });
  assert.deepEqual(rows[3]!.source, { file: CHAT_PARQUET, row: 3, index: 3 });
  // Ranged reads cross the fixture's row groups of 2 rows.
  const ranged = [];
  for await (const r of readParquetRows(CHAT_PARQUET, { rowStart: 1, rowEnd: 4 })) ranged.push(r['id']);
  assert.deepEqual(ranged, [101, 102, 103]);
});

test('Parquet: a file that is not Parquet is INVALID_ARGUMENT naming it', async () => {
  const dir = tempDir();
  const p = join(dir, 'bad.parquet');
  writeFileSync(p, 'not parquet at all');
  await assert.rejects(loadRows({ path: p }), (e: unknown) => e instanceof DataFileError && e.grpcCode === 'INVALID_ARGUMENT' && e.message.includes('bad.parquet'));
});

test('expected_sha256 must match the file, else FAILED_PRECONDITION', async () => {
  const dir = tempDir();
  const p = writeJsonl(dir, 'd.jsonl', [{ a: 1 }]);
  const { sha256 } = await fileDigest(p);
  assert.equal((await loadRows({ path: p, expectedSha256: sha256.toUpperCase() })).length, 1);
  await assert.rejects(loadRows({ path: p, expectedSha256: '0'.repeat(64) }), (e: unknown) => e instanceof DataFileError && e.grpcCode === 'FAILED_PRECONDITION' && e.message.includes(sha256));
});
