// One special-token policy on every path. Tokenizers of several kinds are built in a temp dir (no
// post_processor with a bos_token named, Llama-style TemplateProcessing with BOS, a Llama 3 style
// Sequence, add_bos_token false, add_eos_token true, BERT-style [CLS]/[SEP], a chat template), and the
// same prompt is tokenized through each path: a training row (@juice/data), Generate's prompt encoding,
// ScoreCompletions' context, the evaluator's requests (loglikelihood, generate, reward compare, mapped by
// @juice/eval and encoded as the roles do) and the reward model's text scoring. All must give the same
// prompt ids, and GetModelInfo's add_bos_token must say what they start with.
//
// What tokenizer(text) adds per kind is written out by hand from transformers v5's rule
// (libs/checkpoint/src/special-tokens.ts states it); transformers itself was not available to run here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { createDefaultTokenizerFiles, DEFAULT_CHAT_TEMPLATE, Tokenizer } from '@juice/checkpoint';
import { tokenizeDemonstration, tokenizePreferencePair, type Prompt as DataPrompt } from '@juice/data';
import { generatorEvalModel, rewardModelScorer, type GeneratorClientLike, type RewardClientLike } from '@juice/eval';
import { encodePair, promptTokenIds, scoreCompletions, type ServedLm } from '@juice/inference';
import { describeModel, encodePrompt, encodePromptResponse, PromptError, type LoadedModel } from '@juice/models';
import {
  CompareResponseSchema,
  GenerateResponseSchema,
  ModelHead,
  PromptSchema,
  ScoreCompletionsItemSchema,
  ScoreCompletionsRequestSchema,
  ScoreCompletionsResponseSchema,
  validateScoreCompletions,
  type Completion,
  type Prompt,
  type ScoreCompletionsItem,
} from '@juice/proto';

const corpus = Array.from({ length: 200 }, (_, i) => `What is ${i % 13}+${i % 7}? The answer is ${(i % 13) + (i % 7)}. [${i}]`);
const base = createDefaultTokenizerFiles(corpus, 300);
const baseJson = JSON.parse(base['tokenizer.json']) as Record<string, unknown>;
const PAD = 0;
const BOS = 1;
const EOS = 2;
const SYSTEM = 3;
const names = { bos_token: '<|bos|>', eos_token: '<|eos|>', pad_token: '<|pad|>' };
const bosTemplate = (JSON.parse(base['tokenizer.json']) as { post_processor: unknown }).post_processor;
// A template without BOS: the tokenizer's own prefix is then the only BOS a chat prompt could get.
const plainChat = "{% for m in messages %}{{ '<|' + m['role'] + '|>' + m['content'] }}{% if m['role'] == 'assistant' %}{{ eos_token }}{% endif %}{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}";

interface Kind {
  name: string;
  postProcessor: unknown;
  config: Record<string, unknown>;
  /** What tokenizer(text) puts before and after the text (transformers v5). */
  prefix: number[];
  suffix: number[];
}

const kinds: Kind[] = [
  { name: 'no post_processor, bos_token named (GPT-NeoX style)', postProcessor: null, config: { tokenizer_class: 'GPTNeoXTokenizer', ...names }, prefix: [], suffix: [] },
  { name: 'TemplateProcessing with BOS (Llama style)', postProcessor: bosTemplate, config: { tokenizer_class: 'LlamaTokenizer', ...names }, prefix: [BOS], suffix: [] },
  {
    name: 'Sequence of ByteLevel and TemplateProcessing (Llama 3 style)',
    postProcessor: { type: 'Sequence', processors: [{ type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true }, bosTemplate] },
    config: { tokenizer_class: 'PreTrainedTokenizerFast', ...names },
    prefix: [BOS],
    suffix: [],
  },
  { name: 'add_bos_token false over a BOS template', postProcessor: bosTemplate, config: { tokenizer_class: 'PreTrainedTokenizerFast', ...names, add_bos_token: false }, prefix: [], suffix: [] },
  { name: 'add_eos_token true (and add_bos_token true)', postProcessor: null, config: { tokenizer_class: 'LlamaTokenizer', ...names, add_bos_token: true, add_eos_token: true, chat_template: plainChat }, prefix: [BOS], suffix: [EOS] },
  { name: 'BERT-style [CLS] text [SEP]', postProcessor: { type: 'BertProcessing', cls: ['<|system|>', SYSTEM], sep: ['<|eos|>', EOS] }, config: { tokenizer_class: 'PreTrainedTokenizerFast', ...names }, prefix: [SYSTEM], suffix: [EOS] },
  { name: 'the default model (BOS template, chat template rendering BOS)', postProcessor: bosTemplate, config: JSON.parse(base['tokenizer_config.json']) as Record<string, unknown>, prefix: [BOS], suffix: [] },
];

const root = mkdtempSync(join(tmpdir(), 'juice-tok-kinds-'));
function tokenizerOf(k: Kind, i: number): Tokenizer {
  const dir = join(root, String(i));
  mkdirSync(dir);
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify({ ...baseJson, post_processor: k.postProcessor }));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(k.config));
  return Tokenizer.fromDir(dir);
}

const CONTEXT_LENGTH = 64;
const textPrompt = 'What is 3+4?';
const chat = [{ role: 'user', content: 'What is 3+4?' }];
const response = '7';
const protoText = (t: string): Prompt => create(PromptSchema, { kind: { case: 'text', value: t } });
const protoChat = (): Prompt => create(PromptSchema, { kind: { case: 'chat', value: { messages: chat } } });
/** Only the tokenizer is read by the encoders. */
const lm = (tok: Tokenizer) => ({ model: { tokenizer: tok } }) as unknown as Pick<ServedLm, 'model'>;
const textCompletion = (t: string): Completion => ({ $typeName: 'juice.v1.Completion', kind: { case: 'text', value: t } }) as Completion;

/** The evaluator's requests, captured from @juice/eval's adapters and encoded as the generator and reward model do. */
async function evaluatorPromptIds(tok: Tokenizer, context: string, turns?: typeof chat) {
  const host = { ...lm(tok), contextLength: CONTEXT_LENGTH };
  const seen: { score?: ScoreCompletionsItem[]; generate?: Prompt[]; compare?: { prompt: Prompt; a: Completion }[] } = {};
  const client: GeneratorClientLike = {
    async scoreCompletions(req) {
      const items = (req.items ?? []).map((it) => create(ScoreCompletionsItemSchema, it));
      seen.score = items;
      return create(ScoreCompletionsResponseSchema, { results: items.map(() => ({})) });
    },
    async generate(req) {
      seen.generate = (req.prompts ?? []).map((p) => create(PromptSchema, p));
      return create(GenerateResponseSchema, { results: seen.generate.map((_, i) => ({ promptIndex: i, samples: [{ text: '' }] })) });
    },
  };
  const rewards: RewardClientLike = {
    async compare(req) {
      seen.compare = (req.pairs ?? []).map((p) => ({ prompt: create(PromptSchema, p.prompt!), a: textCompletion((p.responseA!.kind as { value: string }).value) }));
      return create(CompareResponseSchema, { results: seen.compare.map(() => ({})) });
    },
  };
  const model = generatorEvalModel(client);
  await model.loglikelihood([{ context, continuation: response, chat: turns }]);
  await model.generate([{ context, sampling: {}, until: [], chat: turns }]);
  await rewardModelScorer(rewards).compare([{ prompt: context, a: response, b: '8', chat: turns }]);
  return {
    score: encodePair(host, seen.score![0]!, 'items[0]').context,
    generate: promptTokenIds(host, seen.generate!)[0]!,
    reward: encodePromptResponse(tok, seen.compare![0]!.prompt, seen.compare![0]!.a, 'pairs[0]'),
  };
}

function modelInfoOf(tok: Tokenizer) {
  const config = { architecture: 'LlamaForCausalLM', vocabSize: tok.vocabSize, maxPositions: CONTEXT_LENGTH, numLayers: 1, hiddenSize: 8, numHeads: 1, numKvHeads: 1 };
  const loaded = { dir: root, name: 'kinds', config, tokenizer: tok, sha256: '' } as unknown as LoadedModel;
  return describeModel(loaded, { head: ModelHead.CAUSAL_LM, parameterCount: 0, weightVersion: { $typeName: 'juice.v1.WeightVersion', number: 0n, label: '' } as never }).tokenizer!;
}

kinds.forEach((k, i) => {
  test(`one policy on every path: ${k.name}`, async () => {
    const tok = tokenizerOf(k, i);
    const plain = tok.encode(textPrompt);
    // Hugging Face's tokenizer(text): prefix + text + suffix.
    assert.deepEqual(tok.encode(textPrompt, { addSpecialTokens: true }), [...k.prefix, ...plain, ...k.suffix], 'tokenizer(text)');
    assert.deepEqual(tok.specialTokens.prefixIds, k.prefix);
    assert.deepEqual(tok.specialTokens.suffixIds, k.suffix);

    // A prompt that a response follows carries the prefix only; the response ends in EOS once.
    const expected = [...k.prefix, ...plain];
    const row = tokenizeDemonstration(tok, { prompt: { kind: 'text', text: textPrompt }, response }, { maxLength: CONTEXT_LENGTH });
    assert.deepEqual(row.promptIds, expected, 'training row');
    assert.deepEqual(row.responseIds, [...tok.encode(response), EOS], 'training response: EOS once');
    assert.deepEqual(tokenizePreferencePair(tok, { prompt: { kind: 'text', text: textPrompt } as DataPrompt, chosen: response, rejected: '8' }, { maxLength: CONTEXT_LENGTH }).promptIds, expected, 'DPO / reward-model row');
    assert.deepEqual(encodePrompt(tok, protoText(textPrompt), 'prompts[0]'), expected, 'Generate');
    const item = create(ScoreCompletionsItemSchema, { prompt: protoText(textPrompt), completion: { kind: { case: 'text', value: response } } });
    assert.deepEqual(encodePair(lm(tok), item, 'items[0]').context, expected, 'ScoreCompletions');
    const ev = await evaluatorPromptIds(tok, textPrompt);
    assert.deepEqual(ev.score, expected, 'evaluator loglikelihood');
    assert.deepEqual(ev.generate, expected, 'evaluator generate');
    // The reward model reads the training row's whole sequence (this boundary does not merge tokens).
    assert.deepEqual(encodePromptResponse(tok, protoText(textPrompt), textCompletion(response), 'items[0]'), [...row.promptIds, ...row.responseIds], 'reward text');
    assert.deepEqual(ev.reward, [...row.promptIds, ...row.responseIds], 'evaluator reward compare');

    const info = modelInfoOf(tok);
    assert.equal(info.addBosToken, expected[0] === BOS, 'GetModelInfo add_bos_token says what prompts start with');
    assert.equal(info.bosTokenId, BOS);

    if (!tok.hasChatTemplate) {
      assert.throws(() => encodePrompt(tok, protoChat(), 'prompts[0]'), (e: unknown) => e instanceof PromptError && e.grpcCode === 'FAILED_PRECONDITION' && /no chat template/.test(e.message));
      const chatItem = create(ScoreCompletionsItemSchema, { prompt: protoChat(), completion: { kind: { case: 'text', value: response } } });
      assert.throws(() => encodePair(lm(tok), chatItem, 'items[0]'), (e: unknown) => e instanceof PromptError && e.grpcCode === 'FAILED_PRECONDITION');
      assert.throws(() => encodePromptResponse(tok, protoChat(), textCompletion(response), 'items[0]'), (e: unknown) => e instanceof PromptError && e.grpcCode === 'FAILED_PRECONDITION');
      // The validator leaves it to the encoders (FAILED_PRECONDITION, not INVALID_ARGUMENT).
      assert.deepEqual(validateScoreCompletions(create(ScoreCompletionsRequestSchema, { items: [chatItem] }), { hasChatTemplate: false }).list, []);
      return;
    }
    // Chat: the template rendered with the generation prompt, encoded without special tokens.
    const chatIds = tok.encode(tok.applyChatTemplate(chat, { addGenerationPrompt: true }));
    const chatRow = tokenizeDemonstration(tok, { prompt: { kind: 'chat', messages: chat }, response }, { maxLength: CONTEXT_LENGTH });
    assert.deepEqual(chatRow.promptIds, chatIds, 'training row (chat)');
    assert.equal(chatIds.filter((t) => t === BOS).length, k.config.chat_template === DEFAULT_CHAT_TEMPLATE ? 1 : 0, 'BOS only where the template writes it');
    assert.deepEqual(encodePrompt(tok, protoChat(), 'prompts[0]'), chatIds, 'Generate (chat)');
    const chatItem = create(ScoreCompletionsItemSchema, { prompt: protoChat(), completion: { kind: { case: 'text', value: response } } });
    assert.deepEqual(encodePair(lm(tok), chatItem, 'items[0]').context, chatIds, 'ScoreCompletions (chat)');
    const evChat = await evaluatorPromptIds(tok, textPrompt, chat);
    assert.deepEqual(evChat.score, chatIds, 'evaluator loglikelihood (chat)');
    assert.deepEqual(evChat.generate, chatIds, 'evaluator generate (chat)');
    assert.deepEqual(encodePromptResponse(tok, protoChat(), textCompletion(response), 'items[0]'), [...chatRow.promptIds, ...chatRow.responseIds], 'reward text (chat)');
    assert.deepEqual(evChat.reward, [...chatRow.promptIds, ...chatRow.responseIds], 'evaluator reward compare (chat)');
  });
});

test('completions end in EOS once; the suffix never sits between a prompt and its response', () => {
  const tok = tokenizerOf(kinds[4]!, 100);
  assert.deepEqual(tok.encodeCompletion('7<|eos|>'), [...tok.encode('7'), EOS]);
  assert.deepEqual(tok.encodeCompletion('7'), [...tok.encode('7'), EOS]);
  const row = tokenizeDemonstration(tok, { prompt: { kind: 'text', text: textPrompt }, response }, { maxLength: CONTEXT_LENGTH });
  assert.equal([...row.promptIds, ...row.responseIds].filter((t) => t === EOS).length, 1);
  assert.equal(modelInfoOf(tok).addBosToken, true);
  assert.equal(tok.addEosToken, true);
});

test('refused: a flag whose token is not in the vocabulary, a post-processor juice cannot apply', () => {
  const bad = (k: Partial<Kind>, j: number) => () => tokenizerOf({ ...kinds[0]!, ...k }, 200 + j);
  assert.throws(bad({ config: { add_bos_token: true, bos_token: '<|nope|>' } }, 0), /add_bos_token is true but its token "<\|nope\|>" is not in the vocabulary/);
  assert.throws(bad({ postProcessor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: 'X', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }], pair: [], special_tokens: {} } }, 1), /special_tokens has no ids for "X"/);
  // An unnamed bos_token turns add_bos_token off, as transformers does.
  const off = tokenizerOf({ ...kinds[0]!, config: { add_bos_token: true, eos_token: '<|eos|>' } }, 202);
  assert.deepEqual(off.specialTokens.prefixIds, []);
});

test('ScoreCompletions: a context longer than the model is cut from the left (lm-eval), not refused', async () => {
  const tok = tokenizerOf(kinds[1]!, 300);
  const L = 16;
  const fed: number[][] = [];
  const host = {
    model: { tokenizer: tok },
    contextLength: L,
    scorerVersion: 0n,
    scorer: {
      async run(feeds: Record<string, { data: BigInt64Array; dims: number[] }>) {
        const [B, T] = feeds.input_ids!.dims as [number, number];
        fed.push([B, T]);
        return { token_logprobs: { data: new Float32Array(B * T) }, token_is_greedy: { data: new Uint8Array(B * T).fill(1) } };
      },
    },
  } as unknown as ServedLm;
  const longIds = Array.from({ length: 40 }, (_, i) => 10 + (i % 50));
  const items = [
    create(ScoreCompletionsItemSchema, { prompt: { kind: { case: 'tokens', value: { ids: longIds } } }, completion: { kind: { case: 'tokens', value: { ids: [11, 12, 13] } } } }),
    create(ScoreCompletionsItemSchema, { prompt: protoText('What is 3+4? '.repeat(10)), completion: { kind: { case: 'text', value: response } } }),
  ];
  assert.deepEqual(validateScoreCompletions(create(ScoreCompletionsRequestSchema, { items }), { contextLength: L, vocabSize: tok.vocabSize }).list, [], 'no INVALID_ARGUMENT for a long token context');
  const { results } = await scoreCompletions(host, items, false, new AbortController().signal);
  // lm-eval reads (context + continuation)[-(L + 1):][:-1]: L + 1 - |continuation| context tokens.
  assert.equal(results[0]!.numPromptTokens, L + 1 - 3);
  assert.equal(results[0]!.truncatedPromptTokens, 40 - (L + 1 - 3));
  assert.ok(results[1]!.truncatedPromptTokens > 0);
  assert.equal(results[1]!.numPromptTokens + results[1]!.numTokens, L + 1);
  assert.deepEqual(fed, [[2, L]]);
});
