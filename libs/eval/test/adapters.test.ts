// gRPC adapters against fake clients returning real proto messages.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import {
  CompareResponseSchema,
  GenerateResponseSchema,
  GetModelInfoResponseSchema,
  ScoreCompletionsResponseSchema,
  type CompareRequestSchema,
  type GenerateRequestSchema,
  type ScoreCompletionsRequestSchema,
} from '@juice/proto';
import { generatorEvalModel, rewardModelScorer, type GeneratorClientLike } from '../src/index.js';

type ScoreReq = MessageInitShape<typeof ScoreCompletionsRequestSchema>;
type GenReq = MessageInitShape<typeof GenerateRequestSchema>;

function fakeGenerator() {
  const calls = { score: [] as ScoreReq[], gen: [] as GenReq[] };
  const client: GeneratorClientLike = {
    async scoreCompletions(req) {
      calls.score.push(req);
      return create(ScoreCompletionsResponseSchema, {
        results: (req.items ?? []).map((it) => {
          const c = it.completion?.kind?.case === 'text' ? it.completion.kind.value : '';
          return { logprob: -c.length, isGreedy: c.length < 3, numTokens: c.length };
        }),
        weightVersion: { number: 5n },
      });
    },
    async generate(req) {
      calls.gen.push(req);
      return create(GenerateResponseSchema, {
        results: (req.prompts ?? []).map((p, i) => ({
          promptIndex: i,
          samples: [{ text: `${p.kind?.case === 'text' ? p.kind.value : 'chat'} -> out\n\nmore`, weightVersion: 6n }],
        })),
        weightVersion: { number: 6n },
      });
    },
    async getModelInfo() {
      return create(GetModelInfoResponseSchema, { model: { modelName: 'tiny', weightVersion: { number: 6n } } });
    },
  };
  return { client, calls };
}

test('loglikelihood: batches of batchSize, empty context sent as no prompt, results in order', async () => {
  const { client, calls } = fakeGenerator();
  const m = generatorEvalModel(client, { batchSize: 2, minWeightVersion: 4n });
  const items = ['a', 'bb', 'ccc', 'dddd', 'eeeee'].map((c, i) => ({ context: i === 0 ? '' : 'ctx', continuation: c }));
  const res = await m.loglikelihood(items);
  assert.equal(calls.score.length, 3);
  assert.deepEqual(res.map((r) => r.numTokens), [1, 2, 3, 4, 5]);
  assert.equal(res[3]!.isGreedy, false);
  assert.equal(calls.score[0]!.items![0]!.prompt, undefined);
  assert.deepEqual(calls.score[0]!.items![1]!.prompt, { kind: { case: 'text', value: 'ctx' } });
  assert.equal(calls.score[0]!.minWeightVersion, 4n);
  const chat = await m.loglikelihood([{ context: 'x', continuation: 'y', chat: [{ role: 'user', content: 'x' }] }]);
  assert.equal(chat.length, 1);
  assert.equal(calls.score[3]!.items![0]!.prompt!.kind!.case, 'chat');
});

test('generate: requests grouped by decoding settings, stops merged, text cut at until', async () => {
  const { client, calls } = fakeGenerator();
  const m = generatorEvalModel(client, { batchSize: 8 });
  const greedy = { temperature: 0, maxNewTokens: 16, stop: ['END'] };
  const res = await m.generate([
    { context: 'p0', sampling: greedy, until: ['\n\n'] },
    { context: 'p1', sampling: greedy, until: ['\n\n'] },
    { context: 'p2', sampling: { temperature: 0.7, seed: 3n }, until: [] },
  ]);
  assert.equal(calls.gen.length, 2);
  assert.equal(calls.gen[0]!.prompts!.length, 2);
  assert.deepEqual(calls.gen[0]!.sampling!.stop, ['END', '\n\n']);
  assert.equal(calls.gen[1]!.sampling!.seed, 3n);
  assert.equal(res[0]!.text, 'p0 -> out');
  assert.equal(res[2]!.text, 'p2 -> out\n\nmore'); // no until
  assert.equal(res[1]!.weightVersion, 6n);
  assert.deepEqual(await m.info(), { name: 'tiny', weightVersion: 6n });
});

test('reward scorer: Compare pairs in batches', async () => {
  const seen: MessageInitShape<typeof CompareRequestSchema>[] = [];
  const scorer = rewardModelScorer(
    {
      async compare(req) {
        seen.push(req);
        return create(CompareResponseSchema, {
          results: (req.pairs ?? []).map((p) => {
            const a = p.responseA?.kind?.case === 'text' ? p.responseA.kind.value.length : 0;
            const b = p.responseB?.kind?.case === 'text' ? p.responseB.kind.value.length : 0;
            return { probAPreferred: 1 / (1 + Math.exp(b - a)), rewardA: a, rewardB: b };
          }),
        });
      },
    },
    { batchSize: 2 },
  );
  const res = await scorer.compare([
    { prompt: 'p', a: 'long answer', b: 'short' },
    { prompt: 'p', a: 'x', b: 'yy' },
    { prompt: 'p', a: 'same', b: 'same' },
  ]);
  assert.equal(seen.length, 2);
  assert.ok(res[0]!.probAPreferred > 0.5 && res[1]!.probAPreferred < 0.5 && res[2]!.probAPreferred === 0.5);
  assert.equal(res[0]!.rewardA, 11);
});
