// Every task kind end to end against the bigram model, with the expected values worked out by
// hand from the table probabilities.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DataSchema, TaskKind } from '@juice/proto';
import { runTask, taskDataFromRows, type TaskDefinitionInit } from '../src/index.js';
import { BigramModel, LengthReward } from './bigram-model.js';

const close = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) <= eps, `${a} != ${b}`);
const data = (rows: Record<string, unknown>[], fewshotSplit = '') => taskDataFromRows(rows, { split: '', maxRows: 0n }, fewshotSplit);

test('PERPLEXITY: token-, byte- and word-weighted aggregates of rolling log-likelihood', async () => {
  const model = new BigramModel({
    '<s>': { the: 0.5 },
    the: { cat: 0.5, dog: 0.25 },
    cat: { sat: 0.4 },
    dog: { ran: 0.8 },
  });
  // "the cat sat": ln .5 + ln .5 + ln .4 = ln .1  (3 tokens, 11 bytes, 3 words)
  // "the dog":     ln .5 + ln .25       = ln .125 (2 tokens, 7 bytes, 2 words)
  const rows = [{ text: 'the cat sat' }, { text: 'the dog' }];
  const task: TaskDefinitionInit = { name: 'ppl', kind: TaskKind.PERPLEXITY };
  const r = await runTask(task, model, { data: data(rows), logSamples: 5 });
  const ll = Math.log(0.1) + Math.log(0.125); // ln .0125
  close(r.metrics['nll']!, -ll / 5);
  close(r.metrics['perplexity']!, Math.exp(-ll / 5));
  close(r.metrics['perplexity']!, 2.4022488679628627, 1e-12);
  close(r.metrics['bits_per_byte']!, -ll / (18 * Math.LN2));
  close(r.metrics['word_perplexity']!, Math.exp(-ll / 5));
  assert.equal(r.numDocs, 2n);
  // Bootstrap stderr: positive (the two documents differ), deterministic for the seed.
  assert.ok(r.stderr['perplexity']! > 0);
  const again = await runTask(task, model, { data: data(rows) });
  assert.equal(again.stderr['perplexity'], r.stderr['perplexity']);
  // Every prompt was empty: rolling log-likelihood from BOS.
  assert.ok(model.seen.ll.every((it) => it.context === ''));
  assert.equal(r.samples.length, 2);
  close(r.samples[0]!.metrics['logprob']!, Math.log(0.1));
  assert.deepEqual(r.weightVersions, [3n]);
  assert.match(r.taskSha256, /^[0-9a-f]{64}$/);
  assert.match(r.dataSha256, /^[0-9a-f]{64}$/);
});

test('PERPLEXITY: chat rows score the last assistant turn given the earlier turns', async () => {
  const model = new BigramModel({ 'assistant:': { fine: 0.25 }, fine: { thanks: 0.5 } });
  const rows = [{ messages: [{ role: 'user', content: 'how are you' }, { role: 'assistant', content: 'fine thanks' }] }];
  const r = await runTask({ name: 'chat-ppl', kind: TaskKind.PERPLEXITY, dataset: { schema: DataSchema.CHAT } }, model, { data: data(rows) });
  // ln .25 + ln .5 over 2 tokens
  close(r.metrics['nll']!, -(Math.log(0.25) + Math.log(0.5)) / 2);
  const item = model.seen.ll[0]!;
  assert.deepEqual(item.chat, [{ role: 'user', content: 'how are you' }]);
  assert.equal(item.continuation, 'fine thanks');
});

// Last question word -> choice probabilities; the question's last token conditions the choice.
const MC_TABLE = {
  big: { ox: 0.3, elephant: 0.1 }, // acc: ox (ln .3 > ln .1); acc_norm: elephant (ln .1 / 8 = -.288 > ln .3 / 2 = -.602)
  purrs: { cat: 0.6, dog: 0.1 }, // both pick cat
  barks: { cat: 0.5, dog: 0.2 }, // both pick cat (-.231 vs -.536 normalised)
  italy: { rome: 0.7, paris: 0.1 }, // both pick rome
};
const MC_ROWS = [
  { question: 'which is big', choices: ['ox', 'elephant'], label: 1 }, // acc 0, acc_norm 1
  { question: 'which purrs', choices: ['cat', 'dog'], label: 0 }, // 1, 1
  { question: 'which barks', choices: ['cat', 'dog'], label: 'dog' }, // 0, 0 (string target)
  { question: 'capital of italy', choices: ['paris', 'rome'], label: 1 }, // 1, 1
];

test('MULTIPLE_CHOICE: acc (raw) and acc_norm (per byte) with stderr of the mean', async () => {
  const model = new BigramModel(MC_TABLE);
  const task: TaskDefinitionInit = { name: 'mc', kind: TaskKind.MULTIPLE_CHOICE, docToText: 'Question: {{ question }}', docToChoice: 'choices', docToTarget: 'label' };
  const r = await runTask(task, model, { data: data(MC_ROWS), logSamples: 2, batchSize: 3 });
  close(r.metrics['acc']!, 0.5);
  close(r.metrics['acc_norm']!, 0.75);
  close(r.stderr['acc']!, Math.sqrt(1 / 3) / 2); // sample std of [0,1,0,1] = √(1/3), / √4
  close(r.stderr['acc_norm']!, 0.25); // sample std of [1,1,0,1] = .5, / √4
  assert.equal(r.samples.length, 2);
  const s0 = r.samples[0]!;
  assert.equal(s0.output, 'ox');
  assert.equal(s0.target, 'elephant');
  close(s0.choiceLogprobs[0]!, Math.log(0.3));
  close(s0.choiceLogprobs[1]!, Math.log(0.1));
  assert.deepEqual(s0.metrics, { acc: 0, acc_norm: 1 });
  // Continuations carry the default " " target delimiter; 8 requests in batches of 3.
  assert.equal(model.seen.ll[0]!.continuation, ' ox');
  assert.equal(model.calls.loglikelihood, 3);
});

test('MULTIPLE_CHOICE: templated choice list and few-shot contexts leave the bigram decision alone', async () => {
  const model = new BigramModel(MC_TABLE);
  const task: TaskDefinitionInit = {
    name: 'mc-fewshot',
    kind: TaskKind.MULTIPLE_CHOICE,
    docToText: '{{ question }}',
    docToChoice: '{{ choices }}',
    docToTarget: '{{ label }}',
    numFewshot: 2,
    preamble: 'Pick one.\n\n',
  };
  const r = await runTask(task, model, { data: data(MC_ROWS) });
  close(r.metrics['acc']!, 0.5);
  close(r.metrics['acc_norm']!, 0.75);
  assert.equal(r.numFewshot, 2);
  const ctx = model.seen.ll[0]!.context;
  assert.ok(ctx.startsWith('Pick one.\n\n'), ctx);
  assert.ok(ctx.endsWith('\n\nwhich is big'), ctx);
  assert.equal(ctx.split('\n\n').length, 4); // preamble, 2 examples, the question
});

test('MULTIPLE_CHOICE: fixed choices', async () => {
  const model = new BigramModel({ good: { yes: 0.6, no: 0.2 }, bad: { yes: 0.1, no: 0.7 } });
  const rows = [
    { q: 'is it good', a: 1 },
    { q: 'is it bad', a: 1 }, // picks "no": wrong
  ];
  const r = await runTask({ name: 'yesno', kind: TaskKind.MULTIPLE_CHOICE, docToText: 'q', docToTarget: 'a', choices: ['no', 'yes'] }, model, { data: data(rows) });
  close(r.metrics['acc']!, 0.5);
});

// GSM8K-style generation: the bigram's greedy path from each question's last token.
const GEN_TABLE = {
  'q1?': { the: 0.5 },
  the: { answer: 0.6 },
  answer: { is: 0.9 },
  is: { '####': 0.8 },
  '####': { '1,000': 0.7 },
  '1,000': { '\n\n': 0.9 },
  'q2?': { '####': 0.6 }, // -> " #### 1,000"
  'q3?': { maybe: 0.9 },
  maybe: { '\n\n': 0.9 }, // -> " maybe": no match
  'france?': { 'Paris.': 0.8 },
  'Paris.': { '</s>': 0.9 },
};

test('GENERATE_MATCH: answer_regex / target_regex / ignore_strings, until cuts the output', async () => {
  const model = new BigramModel(GEN_TABLE);
  const rows = [
    { q: 'sum q1?', a: 'so #### 1000' }, // " the answer is #### 1,000" -> 1,000 -> 1000 == 1000
    { q: 'sum q2?', a: '#### 7' }, // 1000 != 7
    { q: 'sum q3?', a: '#### 5' }, // no match: wrong
  ];
  const task: TaskDefinitionInit = {
    name: 'gsm',
    kind: TaskKind.GENERATE_MATCH,
    docToText: 'Question: {{ q }}',
    docToTarget: 'a',
    answerRegex: '#### (\\-?[0-9\\.\\,]+)',
    targetRegex: '#### (\\-?[0-9\\.\\,]+)',
    ignoreStrings: [','],
  };
  const r = await runTask(task, model, { data: data(rows), logSamples: 3 });
  close(r.metrics['exact_match']!, 1 / 3);
  close(r.stderr['exact_match']!, 1 / 3); // sample std of [1,0,0] = √(1/3), / √3
  assert.equal(r.samples[0]!.output, ' the answer is #### 1,000');
  assert.equal(r.samples[0]!.answer, '1,000');
  assert.equal(r.samples[0]!.target, '1000');
  assert.equal(r.samples[2]!.answer, '');
  // Defaults: greedy, 256 new tokens, until ["\n\n"], the run seed.
  const g = model.seen.gen[0]!;
  assert.deepEqual(g.until, ['\n\n']);
  assert.equal(g.sampling.temperature, 0);
  assert.equal(g.sampling.maxNewTokens, 256);
  assert.equal(g.sampling.seed, 1234n);
  assert.deepEqual(r.weightVersions, [3n]);
});

test('GENERATE_MATCH: whole-output answer with case and punctuation normalisation', async () => {
  const model = new BigramModel(GEN_TABLE);
  const rows = [{ q: 'capital of france?', a: 'paris' }];
  const base: TaskDefinitionInit = { name: 'capital', kind: TaskKind.GENERATE_MATCH, docToText: 'q', docToTarget: 'a' };
  const strict = await runTask(base, model, { data: data(rows) });
  assert.equal(strict.metrics['exact_match'], 0); // " Paris." vs "paris"
  const loose = await runTask({ ...base, ignoreCase: true, ignorePunctuation: true, until: ['###'], generation: { temperature: 0, stop: ['END'] } }, model, { data: data(rows) });
  assert.equal(loose.metrics['exact_match'], 1);
  assert.deepEqual(model.seen.gen.at(-1)!.until, ['###', 'END']);
});

test('REWARD_WIN_RATE: win when σ(r_policy − r_ref) > .5, ties count half', async () => {
  const model = new BigramModel({
    hi: { hello: 0.9 },
    hello: { there: 0.8 },
    there: { '</s>': 0.9 }, // " hello there": r = 1
    bye: { ciao: 0.9 },
    ciao: { '</s>': 0.9 }, // " ciao": r = .5
    yo: { sup: 0.9 },
    sup: { '</s>': 0.9 }, // " sup": r = .5
  });
  const rows = [
    { prompt: 'say hi', ref: 'hey' }, // 1 vs .5: p = σ(.5) -> win
    { prompt: 'say bye', ref: 'bye now' }, // .5 vs 1: p = σ(-.5) -> loss
    { prompt: 'say yo', ref: 'hey' }, // .5 vs .5: p = .5 -> tie
  ];
  const task: TaskDefinitionInit = { name: 'rm', kind: TaskKind.REWARD_WIN_RATE, docToText: 'prompt', docToTarget: 'ref' };
  const reward = new LengthReward();
  const r = await runTask(task, model, { data: data(rows), rewardScorer: reward, logSamples: 1 });
  close(r.metrics['win_rate']!, 0.5);
  close(r.metrics['mean_reward']!, 2 / 3);
  close(r.metrics['mean_reference_reward']!, 2 / 3);
  close(r.metrics['mean_prob_preferred']!, 0.5); // σ(.5) + σ(-.5) = 1
  close(r.stderr['win_rate']!, 0.5 / Math.sqrt(3)); // sample std of [1, 0, .5] = .5
  assert.equal(reward.seen[0]!.a, ' hello there');
  assert.equal(reward.seen[0]!.b, 'hey');
  assert.deepEqual(model.seen.gen[0]!.until, []); // EOS only by default
  assert.equal(r.samples.length, 1);

  // The same data as PROMPT_COMPLETION rows, without templates.
  const pc = rows.map((x) => ({ prompt: x.prompt, completion: x.ref }));
  const r2 = await runTask({ name: 'rm-pc', kind: TaskKind.REWARD_WIN_RATE, dataset: { schema: DataSchema.PROMPT_COMPLETION } }, model, { data: data(pc), rewardScorer: reward });
  close(r2.metrics['win_rate']!, 0.5);

  await assert.rejects(runTask(task, model, { data: data(rows) }), /needs a reward model/);
});

test('task.metrics restricts the report; unknown names are rejected', async () => {
  const model = new BigramModel(MC_TABLE);
  const base: TaskDefinitionInit = { name: 'mc', kind: TaskKind.MULTIPLE_CHOICE, docToText: 'question', docToChoice: 'choices', docToTarget: 'label' };
  const r = await runTask({ ...base, metrics: ['acc_norm'] }, model, { data: data(MC_ROWS), limit: 2 });
  assert.deepEqual(Object.keys(r.metrics), ['acc_norm']);
  assert.equal(r.numDocs, 2n);
  close(r.metrics['acc_norm']!, 1);
  await assert.rejects(runTask({ ...base, metrics: ['exact_match'] }, model, { data: data(MC_ROWS) }), /task.metrics: exact_match/);
});
