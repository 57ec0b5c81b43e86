import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDefaultTokenizerFiles, DEFAULT_SPECIAL_TOKENS, Tokenizer, trainByteLevelBpe } from '../src/index.js';

/** ~300 KB of deterministic text with many distinct words, numbers, punctuation and some non-ASCII. */
function syntheticCorpus(bytes: number): string[] {
  let s = 7;
  const rnd = (n: number) => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 8) % n;
  const syl = ['ka', 'lo', 'mi', 'ne', 'ru', 'sa', 'to', 'vi', 'ze', 'qu', 'ai', 'ou', 'st', 'ing', 'er', 'the', 'an', 'é', 'ñ', 'ü'];
  const lines: string[] = [];
  let total = 0;
  while (total < bytes) {
    const words = Array.from({ length: 4 + rnd(12) }, () => (rnd(10) === 0 ? String(rnd(1000)) : Array.from({ length: 1 + rnd(3) }, () => syl[rnd(syl.length)]).join('')));
    const line = `${words.join(' ')}${['.', '?', '!', ','][rnd(4)]}`;
    lines.push(line);
    total += Buffer.byteLength(line);
  }
  return lines;
}

const corpus = syntheticCorpus(300_000);

test('training on ~300 KB takes well under 2 s, is deterministic, and breaks ties lexically', () => {
  const t0 = performance.now();
  const a = trainByteLevelBpe(corpus, { vocabSize: 512, specialTokens: [...DEFAULT_SPECIAL_TOKENS] });
  const ms = performance.now() - t0;
  assert.ok(ms < 2000, `${ms.toFixed(0)} ms`);
  assert.equal(a.vocab.size, 512);
  const b = trainByteLevelBpe(corpus, { vocabSize: 512, specialTokens: [...DEFAULT_SPECIAL_TOKENS] });
  assert.deepEqual(a.merges, b.merges);
  assert.deepEqual([...a.vocab], [...b.vocab]);
  // Special tokens first, then the 256 byte symbols, then one entry per merge in merge order.
  assert.deepEqual([...a.vocab.keys()].slice(0, 6), [...DEFAULT_SPECIAL_TOKENS]);
  assert.equal(a.vocab.get('Ġ'), 6 + 32);
  assert.equal(a.merges.length, 512 - 6 - 256);
  // "ab ab cd cd": pairs (a,b) and (c,d) tie at 2 (as do the Ġ pairs); the lexically smallest goes first.
  const tie = trainByteLevelBpe(['cd cd ab ab'], { vocabSize: 256 + 1, specialTokens: [] });
  assert.deepEqual(tie.merges, [['a', 'b']]);
  const none = trainByteLevelBpe(['abc'], { vocabSize: 300, specialTokens: ['<s>'] });
  assert.equal(none.merges.length, 0, 'a pair seen once is not merged');
});

test('the default tokenizer files load in @huggingface/tokenizers and round-trip varied text', () => {
  const files = createDefaultTokenizerFiles(corpus);
  const json = JSON.parse(files['tokenizer.json']) as { model: { type: string; merges: string[] }; pre_tokenizer: { type: string }; decoder: { type: string }; added_tokens: { content: string; special: boolean }[] };
  assert.equal(json.model.type, 'BPE');
  assert.equal(json.pre_tokenizer.type, 'ByteLevel');
  assert.equal(json.decoder.type, 'ByteLevel');
  assert.deepEqual(json.added_tokens.map((t) => t.content).sort(), ['<|assistant|>', '<|bos|>', '<|eos|>', '<|pad|>', '<|system|>', '<|user|>']);
  const tok = Tokenizer.fromFiles(files);
  assert.equal(tok.vocabSize, 512);
  assert.equal(tok.kind, 'BPE');
  const texts = [
    'What is 12+30? The answer is 42.',
    '  leading, trailing and   runs of spaces   ',
    'new\nlines\n\n\tand tabs\r\nCRLF',
    'unicode: café ñandú Grüße 日本語 Ελληνικά русский ✓ ∑ x² ½',
    'emoji 🚀🧃 skin tone 👍🏽 flags 🇫🇷 and ZWJ 👩‍💻 family 👨‍👩‍👧',
    "contractions it's we're they'll I'd",
    'combining e\u0301 and NUL \u0000 bell \u0007 nbsp\u00a0and zero width\u200b',
    '<|user|> typed as text is still text? only when it is the special token',
    '',
  ];
  for (const text of texts) assert.equal(tok.decode(tok.encode(text), { skipSpecialTokens: false }), text, JSON.stringify(text));
  // Every id decodes alone without throwing, and token ↔ id agree.
  for (let id = 0; id < tok.vocabSize; id++) assert.equal(tok.tokenToId(tok.idToToken(id)!), id);
});

test('merges compress the training corpus; digits stay one token each', () => {
  const tok = Tokenizer.fromFiles(createDefaultTokenizerFiles(corpus));
  const sample = corpus.slice(0, 2000).join('\n');
  const ids = tok.encode(sample);
  const bytes = Buffer.byteLength(sample);
  assert.ok(ids.length < bytes * 0.6, `${ids.length} tokens for ${bytes} bytes`);
  assert.deepEqual(tok.encode(' 1234').map((id) => tok.idToToken(id)), ['Ġ', '1', '2', '3', '4']);
});

test('special tokens, add_bos_token and the chat template (role markers, EOS after assistant turns)', () => {
  const files = createDefaultTokenizerFiles(corpus);
  const config = JSON.parse(files['tokenizer_config.json']) as { add_bos_token: boolean; chat_template: string; bos_token: string; eos_token: string };
  assert.equal(config.add_bos_token, true);
  assert.equal(config.bos_token, '<|bos|>');
  assert.deepEqual(JSON.parse(files['special_tokens_map.json']), { bos_token: '<|bos|>', eos_token: '<|eos|>', pad_token: '<|pad|>', additional_special_tokens: ['<|system|>', '<|user|>', '<|assistant|>'] });
  const tok = Tokenizer.fromFiles(files);
  assert.equal(tok.padTokenId, 0);
  assert.equal(tok.bosTokenId, 1);
  assert.deepEqual(tok.eosTokenIds, [2]);
  assert.equal(tok.addBosToken, true);
  assert.deepEqual(tok.encode('hi', { addSpecialTokens: true }), [1, ...tok.encode('hi')]);
  const chat = [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'What is 2+3?' },
    { role: 'assistant', content: '2+3=5' },
    { role: 'user', content: 'And 1+1?' },
  ];
  assert.equal(tok.applyChatTemplate(chat, { addGenerationPrompt: true }), '<|bos|><|system|>Be brief.<|user|>What is 2+3?<|assistant|>2+3=5<|eos|><|user|>And 1+1?<|assistant|>');
  assert.equal(tok.applyChatTemplate(chat.slice(0, 3)), '<|bos|><|system|>Be brief.<|user|>What is 2+3?<|assistant|>2+3=5<|eos|>');
  const ids = tok.encode(tok.applyChatTemplate(chat, { addGenerationPrompt: true }));
  assert.equal(ids[0], tok.bosTokenId);
  assert.equal(ids.filter((i) => i === tok.tokenToId('<|assistant|>')).length, 2, 'role markers are single special tokens');
  assert.equal(ids.filter((i) => i === 2).length, 1);
  assert.equal(tok.decode(ids), 'Be brief.What is 2+3?2+3=5And 1+1?', 'special tokens are skipped when decoding');
  assert.ok(tok.isSpecial(2) && !tok.isSpecial(ids.at(-2)!));
});
