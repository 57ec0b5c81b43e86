// Real tokenizers have 100k–200k entries (Llama 3: 128k, Qwen 2.5: 152k): loading one must not blow the stack.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tokenizer } from '../src/index.js';

test('a tokenizer with a 160k-entry vocabulary loads and round-trips', () => {
  const n = 160_000;
  const vocab: Record<string, number> = {};
  // Byte-level symbols first so any text can be encoded, then filler entries to reach a large vocabulary.
  const bytes = Array.from({ length: 256 }, (_, b) => String.fromCodePoint(b < 33 || (b > 126 && b < 161) || b === 173 ? 256 + b : b));
  bytes.forEach((ch, i) => (vocab[ch] = i));
  for (let i = 256; i < n; i++) vocab[`tok${i}`] = i;
  const json = {
    version: '1.0',
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: [] },
  };
  const tok = Tokenizer.fromJson(json);
  assert.equal(tok.vocabSize, n);
  assert.equal(tok.decode(tok.encode('hello')), 'hello');
});
