// juice run's length rule (pipeline/fit.ts): a demonstration fits when prompt + response + EOS tokens
// <= max_length = min(512, context); the rest are left out of training and evaluation with their row
// and length named, and a file with nothing that fits fails before any training.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePrompt, encodeResponse } from '@juice/data';
import { createDefaultModel } from '@juice/models';
import { ConfigError } from '@juice/service-kit';
import { describeFit, fitDemonstrations, maxLengthFor, modelLimits, requireRows } from '../src/pipeline/fit.js';

const work = mkdtempSync(join(tmpdir(), 'juice-fit-'));
const modelDir = join(work, 'model');
createDefaultModel(modelDir, { corpus: Array.from({ length: 40 }, (_, i) => `What is ${i}+1?\n${i + 1} because counting ${'one two three '.repeat(i % 3)}`), seed: 1 });
const { tokenizer, limits } = modelLimits(modelDir);

test('max_length is the trainer default: min(512, context length)', () => {
  assert.equal(limits.contextLength, 128, 'the embedded model has 128 positions');
  assert.equal(limits.maxLength, 128);
  assert.equal(maxLengthFor(4096), 512);
  assert.equal(maxLengthFor(64), 64);
});

test('rows longer than max_length are left out by row and length; the rest are copied as read', async () => {
  const rows = [
    { prompt: 'What is 1+1?', completion: '2' },
    { prompt: 'What is 2+2?', completion: ' four '.repeat(200) },
    { prompt: 'What is 3+3?', completion: '6' },
  ];
  const file = join(work, 'train.jsonl');
  writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const lengths = rows.map((r) => encodePrompt(tokenizer, { kind: 'text', text: r.prompt }).length + encodeResponse(tokenizer, r.completion).length);
  assert.ok(lengths[0]! <= 128 && lengths[1]! > 128 && lengths[2]! <= 128, `lengths ${lengths}`);

  const report = await fitDemonstrations(tokenizer, file, 2, limits, join(work, 'train.fit.jsonl'));
  assert.equal(report.rows, 3);
  assert.equal(report.kept, 2);
  assert.deepEqual(report.leftOut, [{ where: `${file} line 2`, tokens: lengths[1] }]);
  const copied = readFileSync(report.fitted, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as unknown);
  assert.deepEqual(copied, [rows[0], rows[2]]);
  const line = describeFit(report, limits);
  assert.match(line, /1 of 3 rows left out/);
  assert.match(line, new RegExp(`line 2 \\(${lengths[1]} tokens\\)`));
  requireRows(report, limits, '--data');

  // The boundary: exactly max_length fits, one more does not.
  const at = { ...limits, maxLength: lengths[0]! };
  const atReport = await fitDemonstrations(tokenizer, file, 2, at, join(work, 'at.jsonl'));
  assert.deepEqual(atReport.leftOut.map((x) => x.tokens), lengths.filter((n) => n > lengths[0]!));
  assert.ok(atReport.kept >= 1, 'a row of exactly max_length tokens fits');
  const below = { ...limits, maxLength: lengths[0]! - 1 };
  const none = await fitDemonstrations(tokenizer, file, 2, below, join(work, 'none.jsonl'));
  assert.equal(none.kept, 0);
  assert.throws(
    () => requireRows(none, below, '--eval-data'),
    (e: unknown) => e instanceof ConfigError && e.message.includes(`${file} line 1: ${lengths[0]} tokens`) && e.message.includes('--eval-data') && e.message.includes(`max_length ${below.maxLength}`),
  );
});

test('chat rows are measured through the chat template, as the trainer tokenizes them', async () => {
  const file = join(work, 'chat.jsonl');
  const messages = [{ role: 'user', content: 'What is 5+5?' }, { role: 'assistant', content: '10' }];
  writeFileSync(file, JSON.stringify({ messages }) + '\n');
  const tokens = encodePrompt(tokenizer, { kind: 'chat', messages: [messages[0]!] }).length + encodeResponse(tokenizer, '10').length;
  const fits = await fitDemonstrations(tokenizer, file, 1, { ...limits, maxLength: tokens }, join(work, 'chat.fit.jsonl'));
  assert.equal(fits.kept, 1);
  const cut = await fitDemonstrations(tokenizer, file, 1, { ...limits, maxLength: tokens - 1 }, join(work, 'chat.cut.jsonl'));
  assert.deepEqual(cut.leftOut, [{ where: `${file} line 1`, tokens }]);
});
