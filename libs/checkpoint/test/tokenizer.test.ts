import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointError, createDefaultTokenizerFiles, IncrementalDetokenizer, Tokenizer } from '../src/index.js';

const corpus = Array.from({ length: 300 }, (_, i) => `What is ${i % 97}+${(i * 7) % 89}? The answer is ${(i % 97) + ((i * 7) % 89)}. Reverse "juice" please: naïve café 🧃.`);
const files = createDefaultTokenizerFiles(corpus, 320);

function dirWith(extra: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'juice-tok-'));
  for (const [name, text] of Object.entries({ ...files, ...extra })) writeFileSync(join(dir, name), text);
  return dir;
}

const isErr = (code: string, ...parts: string[]) => (e: unknown) => {
  assert.ok(e instanceof CheckpointError, String(e));
  assert.equal(e.grpcCode, code, e.message);
  for (const p of parts) assert.ok(e.message.includes(p), `${p} in: ${e.message}`);
  return true;
};

test('special token ids resolve from tokenizer_config, special_tokens_map, generation_config and config.json', () => {
  const bare = JSON.stringify({ tokenizer_class: 'PreTrainedTokenizerFast', bos_token: null, add_bos_token: false });
  const dir = dirWith({
    'tokenizer_config.json': bare,
    'special_tokens_map.json': JSON.stringify({ bos_token: { content: '<|bos|>', lstrip: false }, eos_token: '<|eos|>', pad_token: '<|pad|>' }),
    'generation_config.json': JSON.stringify({ eos_token_id: [2, 5] }),
    'config.json': JSON.stringify({ eos_token_id: 2, pad_token_id: 9 }),
  });
  const tok = Tokenizer.fromDir(dir);
  assert.equal(tok.bosTokenId, 1, 'AddedToken-object form from special_tokens_map.json');
  assert.deepEqual(tok.eosTokenIds, [2, 5], 'the tokenizer eos first, then generation_config extras, no duplicates');
  assert.equal(tok.padTokenId, 0, 'special_tokens_map.json pad wins over config.json pad_token_id');
  assert.equal(tok.addBosToken, false);
  assert.equal(tok.hasChatTemplate, false);
  assert.throws(() => tok.applyChatTemplate([{ role: 'user', content: 'hi' }]), isErr('FAILED_PRECONDITION', 'no chat template'));
  // Ids only in config.json when the tokenizer names none.
  const ids = Tokenizer.fromJson(JSON.parse(files['tokenizer.json']) as Record<string, unknown>, {}, { bos_token_id: 1, eos_token_id: [2], pad_token_id: 0 });
  assert.deepEqual([ids.bosTokenId, ids.eosTokenIds, ids.padTokenId, ids.addBosToken], [1, [2], 0, true]);
});

test('chat templates: chat_template.jinja overrides, raise_exception becomes INVALID_ARGUMENT with its message', () => {
  const strict =
    "{% for m in messages %}{% if (m['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
    "{{ '[' + m['role'] + '] ' + m['content'] }}{% if m['role'] == 'assistant' %}{{ eos_token }}{% endif %}{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}";
  const tok = Tokenizer.fromDir(dirWith({ 'chat_template.jinja': strict }));
  assert.equal(tok.chatTemplate, strict);
  assert.equal(tok.applyChatTemplate([{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'yo' }, { role: 'user', content: 'ok' }], { addGenerationPrompt: true }), '[user] hi[assistant] yo<|eos|>[user] ok[assistant] ');
  assert.throws(() => tok.applyChatTemplate([{ role: 'assistant', content: 'hi' }]), isErr('INVALID_ARGUMENT', 'chat template: Conversation roles must alternate'));
  assert.throws(() => Tokenizer.fromDir(dirWith({ 'chat_template.jinja': '{% for %}' })), isErr('INVALID_ARGUMENT', 'chat_template does not parse'));
});

test('missing and invalid files are named', () => {
  const empty = mkdtempSync(join(tmpdir(), 'juice-tok-'));
  assert.throws(() => Tokenizer.fromDir(empty), isErr('NOT_FOUND', join(empty, 'tokenizer.json')));
  const dir = dirWith({ 'tokenizer_config.json': '{ nope' });
  assert.throws(() => Tokenizer.fromDir(dir), isErr('INVALID_ARGUMENT', join(dir, 'tokenizer_config.json'), 'not valid JSON'));
});

test('the streaming detokenizer emits whole characters only, matches the full decode, and flushes the rest', () => {
  const tok = Tokenizer.fromFiles(files);
  for (const text of ['naïve 🧃 juice', '日本語のテキスト 👩‍💻 ok', 'What is 12+30? The answer is 42.', '🇫🇷🇫🇷 é\u0301']) {
    const step = tok.detokenizer();
    const ids = tok.encode(text);
    const pieces = ids.map(step);
    pieces.push(step.flush());
    assert.equal(pieces.join(''), text, JSON.stringify(text));
    assert.ok(pieces.every((p) => !p.includes('\uFFFD')), JSON.stringify(pieces));
    assert.ok(pieces.filter((p) => p).length > 1, 'text arrives in pieces');
  }
  // A sequence cut inside a character: nothing until flush, which yields the replacement character.
  const cut = tok.encode('🧃').map((id) => tok.idToToken(id)!);
  const byteTokens = cut.flatMap((t) => [...t]).map((c) => tok.tokenToId(c)!);
  const d = tok.detokenizer();
  assert.deepEqual(byteTokens.slice(0, 2).map(d), ['', '']);
  assert.equal(d.flush(), '\uFFFD');
  assert.equal(d.flush(), '');
  // Special tokens: skipped by default, kept on request.
  const chat = tok.encode(tok.applyChatTemplate([{ role: 'user', content: 'hi' }], { addGenerationPrompt: true }));
  assert.equal(chat.map(tok.detokenizer()).join(''), 'hi');
  assert.equal(chat.map(tok.detokenizer({ skipSpecialTokens: false })).join(''), '<|bos|><|user|>hi<|assistant|>');
});

test('IncrementalDetokenizer decodes a bounded window, not the whole sequence, per token', () => {
  const tok = Tokenizer.fromFiles(files);
  const ids = tok.encode('The answer is 42. '.repeat(200));
  let decoded = 0;
  const d = new IncrementalDetokenizer((window) => {
    decoded += window.length;
    return tok.decode(window);
  });
  const text = ids.map((id) => d.push(id)).join('') + d.flush();
  assert.equal(text, 'The answer is 42. '.repeat(200));
  assert.ok(decoded < ids.length * 8, `${decoded} ids decoded for ${ids.length} tokens (quadratic would be ~${(ids.length * ids.length) / 2})`);
});
