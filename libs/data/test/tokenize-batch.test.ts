import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collateBatch, collatePairBatch, encodePrompt, IGNORE_INDEX, padIdFor, pairToExamples, sumOverResponse, tokenizeDemonstration, tokenizePreferencePair, truncateExample, truncationFromHyperparameters, type TokenizerLike } from '../src/index.js';
import { BOS, charTokenizer, EOS, ids, PAD } from './helpers.js';

const text = (t: string) => ({ kind: 'text' as const, text: t });
const rows = (a: BigInt64Array | Float32Array, T: number) => Array.from({ length: a.length / T }, (_, b) => Array.from(a.subarray(b * T, (b + 1) * T), Number));

test('prompt and response ids come from the tokenizer\'s policy: text prompts, chat prompts with the generation prompt, responses ending in EOS', () => {
  const t = tokenizeDemonstration(charTokenizer, { prompt: text('ab'), response: 'cd' }, { maxLength: 32 });
  assert.deepEqual(t, { promptIds: [BOS, ...ids('ab')], responseIds: [...ids('cd'), EOS], truncated: false });
  const c = tokenizeDemonstration(charTokenizer, { prompt: { kind: 'chat', messages: [{ role: 'user', content: 'q' }] }, response: 'r' }, { maxLength: 32 });
  // Chat prompts are the template's output alone: a template that wants BOS renders it (Llama style).
  assert.deepEqual(c.promptIds, ids('<u>q<a>'));
  const withBosInTemplate: TokenizerLike = { ...charTokenizer, applyChatTemplate: (m, o) => '\u0001' + charTokenizer.applyChatTemplate(m, o) };
  assert.deepEqual(encodePrompt(withBosInTemplate, { kind: 'chat', messages: [{ role: 'user', content: 'q' }] }), [BOS, ...ids('<u>q<a>')]);
  assert.deepEqual(encodePrompt({ ...charTokenizer, encodeTextPrompt: (s: string) => ids(s) }, text('ab')), ids('ab'));
  assert.throws(() => tokenizeDemonstration({ ...charTokenizer, eosTokenIds: [] }, { prompt: text('a'), response: 'b' }, { maxLength: 8 }), /no EOS token/);
});

test('truncation: the prompt loses its oldest tokens, then the response its tail', () => {
  const p = [1, 2, 3, 4, 5, 6, 7, 8];
  const r = [20, 21, 22, 23, 24, 2];
  assert.deepEqual(truncateExample(p, r, { maxLength: 20, maxPromptLength: 4 }), { promptIds: [5, 6, 7, 8], responseIds: r, truncated: true });
  assert.deepEqual(truncateExample(p, r, { maxLength: 7, maxPromptLength: 4 }), { promptIds: [5, 6, 7, 8], responseIds: [20, 21, 22], truncated: true });
  // Default maxPromptLength = maxLength - 1: the prompt is kept whole while it fits, the response gets the rest.
  assert.deepEqual(truncateExample(p, r, { maxLength: 10 }), { promptIds: p, responseIds: [20, 21], truncated: true });
  assert.deepEqual(truncateExample(p, r, { maxLength: 6 }), { promptIds: [4, 5, 6, 7, 8], responseIds: [20], truncated: true });
  assert.deepEqual(truncateExample(p, r, { maxLength: 14 }), { promptIds: p, responseIds: r, truncated: false });
  assert.throws(() => truncateExample(p, r, { maxLength: 8, maxPromptLength: 8 }), /maxPromptLength must be an integer in 1\.\.maxLength-1/);
});

test('truncation limits from TrainingHyperparameters: 0 = min(512, context) and max_length / 4', () => {
  assert.deepEqual(truncationFromHyperparameters({}, 128), { maxLength: 128, maxPromptLength: 32 });
  assert.deepEqual(truncationFromHyperparameters({ maxLength: 0, maxPromptLength: 0 }, 2048), { maxLength: 512, maxPromptLength: 128 });
  assert.deepEqual(truncationFromHyperparameters({ maxLength: 100, maxPromptLength: 60 }, 128), { maxLength: 100, maxPromptLength: 60 });
  assert.throws(() => truncationFromHyperparameters({ maxLength: 256 }, 128), /max_length 256 exceeds the model's context length 128/);
  assert.throws(() => truncationFromHyperparameters({ maxLength: 64, maxPromptLength: 64 }, 128), /maxPromptLength must be/);
});

test('batch: right padding, attention mask, shifted labels (-100 on prompt and padding), response mask', () => {
  const a = { promptIds: [BOS, 10, 11], responseIds: [20, 21, EOS], truncated: false };
  const b = { promptIds: [BOS, 12], responseIds: [22, EOS], truncated: false };
  const batch = collateBatch([a, b], { padTokenId: padIdFor(charTokenizer) });
  const X = IGNORE_INDEX;
  assert.equal(batch.seqLen, 6);
  assert.deepEqual(rows(batch.inputIds, 6), [[BOS, 10, 11, 20, 21, EOS], [BOS, 12, 22, EOS, PAD, PAD]]);
  assert.deepEqual(rows(batch.attentionMask, 6), [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]]);
  // labels[t] = the token at t+1 when that token is part of the response.
  assert.deepEqual(rows(batch.labels, 6), [[X, X, 20, 21, EOS, X], [X, 22, EOS, X, X, X]]);
  assert.deepEqual(rows(batch.responseMask, 6), [[0, 0, 1, 1, 1, 0], [0, 1, 1, 0, 0, 0]]);
  assert.deepEqual([batch.promptLengths, batch.responseLengths], [[3, 2], [3, 2]]);
  // Sequence log-prob sums: the mask picks exactly the response positions.
  const perToken = Array.from({ length: 12 }, (_, i) => i + 1);
  assert.deepEqual(Array.from(sumOverResponse(batch, perToken)), [3 + 4 + 5, 8 + 9]);
});

test('batch: fixed and multiple-of lengths; an over-long example is an error', () => {
  const e = { promptIds: [1, 2], responseIds: [3, 2], truncated: false };
  assert.equal(collateBatch([e], { padToMultipleOf: 8 }).seqLen, 8);
  const fixed = collateBatch([e], { seqLen: 16, padTokenId: 9 });
  assert.equal(fixed.inputIds.length, 16);
  assert.equal(fixed.inputIds[15], 9n);
  assert.throws(() => collateBatch([e], { seqLen: 3 }), /more than the fixed sequence length 3/);
  assert.throws(() => collateBatch([]), /zero examples/);
});

test('pair batch: 2B rows, first B chosen, next B rejected, each pair sharing its prompt', () => {
  const pairs = [
    { prompt: text('p1'), chosen: 'yes', rejected: 'no' },
    { prompt: text('p22'), chosen: 'c', rejected: 'rr' },
  ].map((p) => tokenizePreferencePair(charTokenizer, p, { maxLength: 16 }));
  const [chosen, rejected] = [pairs.map((p) => pairToExamples(p)[0]), pairs.map((p) => pairToExamples(p)[1])];
  const batch = collatePairBatch(chosen, rejected);
  assert.equal(batch.batchSize, 4);
  const T = batch.seqLen;
  const decoded = rows(batch.inputIds, T).map((r, i) => r.slice(0, batch.promptLengths[i]! + batch.responseLengths[i]!));
  assert.deepEqual(decoded, [
    [BOS, ...ids('p1yes'), EOS],
    [BOS, ...ids('p22c'), EOS],
    [BOS, ...ids('p1no'), EOS],
    [BOS, ...ids('p22rr'), EOS],
  ]);
  assert.throws(() => collatePairBatch(chosen, rejected.slice(1)), /as many chosen as rejected/);
  // Truncation of a pair: one shared prompt, each response cut to fit on its own.
  const t = tokenizePreferencePair(charTokenizer, { prompt: text('abcdef'), chosen: 'xyz', rejected: 'q' }, { maxLength: 6, maxPromptLength: 3 });
  assert.deepEqual(t, { promptIds: ids('def'), chosenIds: ids('xyz'), rejectedIds: [...ids('q'), EOS], truncated: true });
});
