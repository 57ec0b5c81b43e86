import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { DataFileError, loadRows, parseSplit, resolveSplit, selectRowRange } from '../src/index.js';
import { tempDir, writeJsonl } from './helpers.js';

const CHAT_PARQUET = fileURLToPath(new URL('./fixtures/chat.parquet', import.meta.url));

test('split selectors resolve like Hugging Face slices', () => {
  const r = (s: string, n = 1000) => resolveSplit(parseSplit(s), n);
  assert.deepEqual(r(''), { start: 0, end: 1000 });
  assert.deepEqual(r('[:100]'), { start: 0, end: 100 });
  assert.deepEqual(r('[100:]'), { start: 100, end: 1000 });
  assert.deepEqual(r('[10:20]'), { start: 10, end: 20 });
  assert.deepEqual(r('[:90%]'), { start: 0, end: 900 });
  assert.deepEqual(r('[90%:]'), { start: 900, end: 1000 });
  assert.deepEqual(r('[-100:]'), { start: 900, end: 1000 });
  assert.deepEqual(r('[ 5 : 2000 ]'), { start: 5, end: 1000 }, 'clamped like Python slices');
  assert.deepEqual(r('[20:10]'), { start: 20, end: 20 }, 'empty, never negative');
  assert.deepEqual(selectRowRange('[10:]', 1000, 5), { start: 10, end: 15 });
});

test('percentage splits partition the rows for any size (no overlap, no gap)', () => {
  for (const n of [0, 1, 7, 10, 33, 101]) {
    for (const p of [0, 1, 33, 50, 90, 99, 100]) {
      const a = resolveSplit(parseSplit(`[:${p}%]`), n);
      const b = resolveSplit(parseSplit(`[${p}%:]`), n);
      assert.equal(a.end, b.start);
      assert.equal(b.end - a.start, n);
    }
  }
});

test('malformed selectors are INVALID_ARGUMENT naming the selector and the valid forms', () => {
  for (const bad of ['train', '[:abc]', '[1:2:3]', '[:101%]', '1000', '[:1.5]']) {
    assert.throws(() => parseSplit(bad), (e: unknown) => e instanceof DataFileError && e.grpcCode === 'INVALID_ARGUMENT' && e.message.includes(JSON.stringify(bad)) && e.message.includes('[:90%]'), bad);
  }
});

test('splits apply to the file order across a directory, then max_rows', async () => {
  const dir = tempDir();
  writeJsonl(dir, 'part-0.jsonl', Array.from({ length: 6 }, (_, i) => ({ i })));
  writeJsonl(dir, 'part-1.jsonl', Array.from({ length: 4 }, (_, i) => ({ i: 6 + i })));
  const got = async (split: string, maxRows = 0) => (await loadRows({ path: dir, split, maxRows })).map((r) => r.row['i']);
  assert.deepEqual(await got('[:80%]'), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(await got('[80%:]'), [8, 9]);
  assert.deepEqual(await got('[4:8]'), [4, 5, 6, 7]);
  assert.deepEqual(await got('[5:]', 3), [5, 6, 7]);
  assert.deepEqual(await got('[-3:]'), [7, 8, 9]);
  assert.deepEqual(await got('', 2), [0, 1]);
  const rows = await loadRows({ path: dir, split: '[7:8]', maxRows: 10n });
  assert.deepEqual(rows[0]!.source.row, 1);
  assert.deepEqual(rows[0]!.source.index, 7);
});

test('splits on Parquet skip whole row groups and report file row indices', async () => {
  const rows = await loadRows({ path: CHAT_PARQUET, split: '[60%:]' });
  assert.deepEqual(rows.map((r) => [r.row['id'], r.source.row]), [[103, 3], [104, 4]]);
  assert.deepEqual((await loadRows({ path: CHAT_PARQUET, split: '[1:]', maxRows: 2 })).map((r) => r.row['id']), [101, 102]);
});
