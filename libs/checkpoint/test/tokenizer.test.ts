import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDefaultTokenizerFiles, Tokenizer, trainByteLevelBpe } from '../src/index.js';

const corpus = Array.from({ length: 400 }, (_, i) => `What is ${i % 97}+${(i * 7) % 89}? The answer is ${(i % 97) + ((i * 7) % 89)}. Reverse the word "tokenizer" please, then sort 3 1 2.`);
const files = createDefaultTokenizerFiles(corpus, 300);
const dir = mkdtempSync(join(tmpdir(), 'juice-tok-'));
for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
const tok = Tokenizer.fromDir(dir);

test('the trained tokenizer.json loads and encode → decode is the identity on varied text', () => {
  for (const text of ['What is 12+30?', '  leading and   runs of spaces\n\nnew lines\t', 'unicode: café ñandú 日本語 ✓', 'emoji 🚀🧃 and ZWJ 👩‍💻', "it's we're they'll", '']) {
    assert.equal(tok.decode(tok.encode(text)), text, JSON.stringify(text));
  }
  assert.equal(tok.vocabSize, 300);
});

test('merges compress the corpus; digits stay one token each', () => {
  const text = corpus[5]!;
  const ids = tok.encode(text);
  assert.ok(ids.length < new TextEncoder().encode(text).length * 0.6, `${ids.length} tokens for ${text.length} bytes`);
  const digits = tok.encode(' 1234').map((id) => tok.idToToken(id));
  assert.deepEqual(digits, ['Ġ', '1', '2', '3', '4']);
});

test('special tokens, BOS on plain text, and the chat template', () => {
  assert.equal(tok.bosTokenId, 1);
  assert.deepEqual(tok.eosTokenIds, [2]);
  assert.equal(tok.padTokenId, 0);
  assert.equal(tok.addBosToken, true);
  assert.equal(tok.encode('hi', { addSpecialTokens: true })[0], 1);
  const rendered = tok.applyChatTemplate([{ role: 'user', content: 'What is 2+3?' }, { role: 'assistant', content: '2+3=5' }, { role: 'user', content: 'And 1+1?' }], { addGenerationPrompt: true });
  assert.equal(rendered, '<|bos|><|user|>What is 2+3?<|assistant|>2+3=5<|eos|><|user|>And 1+1?<|assistant|>');
  const ids = tok.encode(rendered);
  assert.equal(ids.filter((i) => i === tok.tokenToId('<|assistant|>')).length, 2, 'role markers are single special tokens');
  assert.equal(tok.decode(ids), 'What is 2+3?2+3=5And 1+1?', 'special tokens are skipped when decoding');
});

test('the streaming detokenizer emits whole characters only and concatenates to the full text', () => {
  const text = 'naïve 🧃 juice';
  const step = tok.detokenizer();
  const pieces = tok.encode(text).map(step);
  assert.equal(pieces.join(''), text);
  assert.ok(pieces.every((p) => !p.includes('\uFFFD')));
});

test('BPE training is deterministic', () => {
  const a = trainByteLevelBpe(corpus, { vocabSize: 280, specialTokens: ['<s>'] });
  const b = trainByteLevelBpe(corpus, { vocabSize: 280, specialTokens: ['<s>'] });
  assert.deepEqual(a.merges, b.merges);
});
