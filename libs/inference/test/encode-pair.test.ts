// lm-evaluation-harness's (context, continuation) tokenization, which the generator's ScoreCompletions
// and the evaluator's in-process model share: the context's trailing whitespace moves to the
// continuation, the continuation is the tail of encode(context + continuation), an empty context scores
// from BOS, and token ids are used verbatim.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { createDefaultModel, loadModel } from '@juice/models';
import { ScoreCompletionsItemSchema, type ScoreCompletionsItem } from '@juice/proto';
import { encodePair } from '../src/score.js';

const dir = join(mkdtempSync(join(tmpdir(), 'juice-encode-pair-')), 'model');
createDefaultModel(dir, { corpus: Array.from({ length: 80 }, (_, i) => `Question: what is ${i} plus ${i % 5}? Answer: ${i + (i % 5)}`), seed: 1 });
const host = { model: loadModel(dir) };
const tok = host.model.tokenizer;

const item = (prompt: ScoreCompletionsItem['prompt'] | undefined, completion: string | number[]): ScoreCompletionsItem =>
  create(ScoreCompletionsItemSchema, {
    ...(prompt ? { prompt } : {}),
    completion: typeof completion === 'string' ? { kind: { case: 'text', value: completion } } : { kind: { case: 'tokens', value: { ids: completion } } },
  });

test('text context: trailing whitespace joins the continuation, which is the tail of the whole encoding', () => {
  const ctx = 'Question: what is 3 plus 4? Answer: ';
  const { context, completion } = encodePair(host, item({ $typeName: 'juice.v1.Prompt', kind: { case: 'text', value: ctx } }, '7'), 'items[0]');
  const whole = tok.encode('Question: what is 3 plus 4? Answer: 7', { addSpecialTokens: tok.addBosToken });
  assert.deepEqual(context, tok.encode(ctx.trimEnd(), { addSpecialTokens: tok.addBosToken }));
  assert.deepEqual([...context, ...completion], whole);
  assert.equal(tok.decode(completion), ' 7');
});

test('no context scores from BOS; token ids are taken verbatim', () => {
  const bos = tok.bosTokenId ?? tok.eosTokenIds[0]!;
  assert.deepEqual(encodePair(host, item(undefined, 'Answer: 7'), 'items[0]'), { context: [bos], completion: tok.encode('Answer: 7') });
  const ids = tok.encode('what is 3');
  assert.deepEqual(encodePair(host, item({ $typeName: 'juice.v1.Prompt', kind: { case: 'tokens', value: { $typeName: 'juice.v1.TokenIds', ids } } }, [5, 6]), 'items[0]'), { context: ids, completion: [5, 6] });
});
