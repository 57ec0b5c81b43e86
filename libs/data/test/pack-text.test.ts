import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadTexts, packDocuments, type TokenizerLike } from '../src/index.js';
import { BOS, charTokenizer, EOS, ids, tempDir, writeJsonl } from './helpers.js';

test('packing: each document as tokenizer(text) encodes it then EOS, concatenated, cut into max_length windows, the tail kept', () => {
  const stream = [BOS, ...ids('abc'), EOS, BOS, ...ids('de'), EOS];
  assert.equal(stream.length, 9);
  // Like Llama's tokenizer(text): BOS from the post-processor, no EOS.
  const tok: TokenizerLike = { ...charTokenizer, encode: (t, o) => (o.addSpecialTokens ? [BOS, ...ids(t)] : ids(t)) };
  const w = packDocuments(tok, ['abc', 'de'], 4);
  assert.deepEqual(w.map((e) => e.responseIds), [stream.slice(0, 4), stream.slice(4, 8)], 'a 1-token tail predicts nothing and is dropped');
  assert.ok(w.every((e) => e.promptIds.length === 0 && !e.truncated), 'the whole window is in the loss');
  assert.deepEqual(packDocuments(tok, ['abc', 'de'], 5).map((e) => e.responseIds), [stream.slice(0, 5), stream.slice(5)]);
  assert.deepEqual(packDocuments(tok, ['abc', 'de'], 64).map((e) => e.responseIds), [stream]);
});

test('packing: a document already ending in EOS gets no second one; no BOS when the tokenizer adds none; refusals', () => {
  const noBos: TokenizerLike = { ...charTokenizer, encode: (t, o) => (o.addSpecialTokens ? [...ids(t), EOS] : ids(t)) };
  assert.deepEqual(packDocuments(noBos, ['ab', 'c'], 16)[0]!.responseIds, [...ids('ab'), EOS, ...ids('c'), EOS]);
  assert.throws(() => packDocuments(charTokenizer, ['ab'], 1), /at least 2 tokens/);
  assert.throws(() => packDocuments({ ...charTokenizer, eosTokenIds: [] }, ['ab'], 8), /EOS/);
});

test('TEXT rows: the text column (or fields.text); other schemas refused for text, TEXT refused for demonstrations', async () => {
  const dir = tempDir();
  const path = writeJsonl(dir, 'docs.jsonl', [{ text: 'one' }, { text: 'two' }]);
  assert.deepEqual(await loadTexts({ path, schema: 'text' }), ['one', 'two']);
  assert.deepEqual(await loadTexts({ path, schema: 4 }), ['one', 'two']);
  const mapped = writeJsonl(dir, 'body.jsonl', [{ body: 'x' }]);
  assert.deepEqual(await loadTexts({ path: mapped, schema: 'text', fields: { text: 'body' } }), ['x']);
  await assert.rejects(loadTexts({ path: mapped, schema: 'text' }), /text.*is missing/);
  await assert.rejects(loadTexts({ path: writeJsonl(dir, 'n.jsonl', [{ text: 3 }]), schema: 'text' }), /must be a string/);
  await assert.rejects(loadTexts({ path, schema: 'chat' }), /schema CHAT cannot be used here; valid: TEXT/);
  const { loadDemonstrations } = await import('../src/index.js');
  await assert.rejects(loadDemonstrations({ path, schema: 'text' }), /schema TEXT cannot be used here/);
});
