// Reading task files: JSONL, directories, splits, hashes, and the Parquet stop-gap error.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { TaskDefinitionSchema, TaskKind } from '@juice/proto';
import { loadTaskData, parseJsonl, readDataset, runTask, taskSha256 } from '../src/index.js';
import { BigramModel } from './bigram-model.js';

let dir = '';
const lines = ['{"text":"the cat sat"}', '', '{"text":"the dog"}', '{"text":"a b"}', '{"text":"c d"}'].join('\n') + '\n';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'juice-eval-'));
  await writeFile(join(dir, 'docs.jsonl'), lines);
  await writeFile(join(dir, 'bad.jsonl'), '{"a":1}\n{oops}\n');
  await writeFile(join(dir, 'x.parquet'), 'PAR1');
  await mkdir(join(dir, 'shards'));
  await writeFile(join(dir, 'shards', 'b.jsonl'), '{"i":2}\n');
  await writeFile(join(dir, 'shards', 'a.jsonl'), '{"i":0}\n{"i":1}\n');
});
after(() => rm(dir, { recursive: true, force: true }));

test('JSONL rows, blank lines skipped, SHA-256 of the bytes, split applied', async () => {
  const { rows, sha256 } = await readDataset({ path: join(dir, 'docs.jsonl'), format: 0, expectedSha256: '' });
  assert.equal(rows.length, 4);
  assert.equal(sha256, createHash('sha256').update(lines).digest('hex'));
  const data = await loadTaskData({ dataset: create(TaskDefinitionSchema, { dataset: { path: join(dir, 'docs.jsonl'), split: '[1:3]' } }).dataset!, fewshotSplit: '[3:]' });
  assert.deepEqual(data.docs.map((d) => d.row), [1, 2]);
  assert.deepEqual(data.fewshotDocs!.map((d) => d.row), [3]);
});

test('errors name the file, line or field', async () => {
  await assert.rejects(readDataset({ path: join(dir, 'bad.jsonl'), format: 0, expectedSha256: '' }), /bad\.jsonl:2: not valid JSON/);
  await assert.rejects(readDataset({ path: join(dir, 'x.parquet'), format: 0, expectedSha256: '' }), /Parquet.*convert the task data to JSONL/);
  await assert.rejects(readDataset({ path: join(dir, 'nope.jsonl'), format: 0, expectedSha256: '' }), /does not exist/);
  await assert.rejects(readDataset({ path: join(dir, 'docs.jsonl'), format: 0, expectedSha256: '0'.repeat(64) }), /dataset.expected_sha256/);
  assert.throws(() => parseJsonl('[1]', 'f.json'), /f.json: element 0: expected a JSON object/);
});

test('a directory is read in name order; a JSON array file is accepted', async () => {
  const { rows } = await readDataset({ path: join(dir, 'shards'), format: 0, expectedSha256: '' });
  assert.deepEqual(rows, [{ i: 0 }, { i: 1 }, { i: 2 }]);
  assert.deepEqual(parseJsonl('[{"a":1},{"a":2}]'), [{ a: 1 }, { a: 2 }]);
});

test('runTask reads task.dataset itself; the task hash is stable and sensitive', async () => {
  const model = new BigramModel({ '<s>': { the: 0.5 }, the: { cat: 0.5, dog: 0.25 }, cat: { sat: 0.4 } });
  const def = { name: 'file-ppl', kind: TaskKind.PERPLEXITY, dataset: { path: join(dir, 'docs.jsonl'), split: '[:2]' } };
  const r = await runTask(def, model);
  assert.equal(r.numDocs, 2n);
  assert.equal(r.dataSha256, createHash('sha256').update(lines).digest('hex'));
  assert.ok(Math.abs(r.metrics['nll']! + Math.log(0.0125) / 5) < 1e-12);
  assert.equal(r.taskSha256, taskSha256(create(TaskDefinitionSchema, def)));
  assert.notEqual(r.taskSha256, taskSha256(create(TaskDefinitionSchema, { ...def, numFewshot: 1 })));
});
