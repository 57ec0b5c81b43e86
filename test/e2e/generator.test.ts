// The generator as its own process over real gRPC, serving the embedded default model: greedy output
// equals an in-process reference decode, seeded sampling reproduces, Generate's log-probs equal
// ScoreCompletions' for the same tokens, a weight push changes outputs and the version while a corrupt
// push is rejected and the old version keeps serving, and 50 concurrent callers all get correct answers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { buildGenerationGraphs, createDefaultModel, gaussian, loadModel } from '@juice/models';
import { toModelBytes } from '@juice/onnx';
import { FinishReason, GeneratorService, WeightChunkSchema, type GenerateStreamResponse } from '@juice/proto';
import { createSession, Decoder, DEFAULT_SAMPLING, type Feeds } from '@juice/runtime';
import { createClient, ServiceError, status } from '@juice/service-kit';
import { weightChunks } from '@juice/weight-sync';
import { startRole, type RunningRole } from '../support/spawn-service.js';
import { healthStatus } from '../support/grpc-tools.js';

const dir = join(mkdtempSync(join(tmpdir(), 'juice-gen-')), 'model');
createDefaultModel(dir, { corpus: Array.from({ length: 200 }, (_, i) => `What is ${i}+${i % 9}? ${i}+${i % 9}=${i + (i % 9)}`), seed: 3 });
const model = loadModel(dir);
let role: RunningRole;
let client: ReturnType<typeof createClient<typeof GeneratorService>>;

before(async () => {
  role = await startRole('generator', ['--model', dir, '--max-batch', '8']);
  client = createClient(GeneratorService, role.address);
});
after(async () => {
  client.close();
  await role.stop();
});

const text = (value: string) => ({ kind: { case: 'text' as const, value } });
const greedy = { temperature: 0, maxNewTokens: 12, ignoreEos: true };

async function reference(prompt: string, maxNew: number, weights = model.params): Promise<number[]> {
  const { prefill, decode } = buildGenerationGraphs(model.config);
  const dec = new Decoder(await createSession(toModelBytes(prefill)), await createSession(toModelBytes(decode)), { layers: model.config.numLayers, kvHeads: model.config.numKvHeads, headDim: model.config.headDim, vocabSize: model.config.vocabSize });
  const feeds: Feeds = Object.fromEntries(weights.entries.map((e) => [e.name, { data: weights.view(e.name), dims: e.shape as number[] }]));
  const [row] = await dec.generate([model.tokenizer.encode(prompt, { addSpecialTokens: true })], feeds, { maxNewTokens: maxNew, eosTokenIds: [], sampling: { ...DEFAULT_SAMPLING, temperature: 0 } });
  return row!.tokens;
}

test('greedy generation over gRPC equals the in-process reference decode', async () => {
  const res = await client.generate({ prompts: [text('What is 3+4?'), text('hello')], sampling: greedy, echo: true });
  assert.deepEqual(res.results[0]!.samples[0]!.tokenIds, await reference('What is 3+4?', 12));
  assert.deepEqual(res.results[1]!.samples[0]!.tokenIds, await reference('hello', 12));
  assert.equal(res.results[0]!.samples[0]!.finishReason, FinishReason.LENGTH);
  assert.equal(res.results[0]!.samples[0]!.text, model.tokenizer.decode(res.results[0]!.samples[0]!.tokenIds));
  assert.deepEqual(res.results[0]!.promptTokenIds, model.tokenizer.encode('What is 3+4?', { addSpecialTokens: true }));
});

test('seeded sampling reproduces; n samples differ; re-sending a sample seed with n=1 reproduces it', async () => {
  const req = { prompts: [text('What is')], n: 4, sampling: { temperature: 1, seed: 1234n, maxNewTokens: 16, ignoreEos: true } };
  const a = await client.generate(req);
  const b = await client.generate(req);
  const tokens = (r: typeof a) => r.results[0]!.samples.map((s) => s.tokenIds);
  assert.deepEqual(tokens(a), tokens(b));
  assert.ok(new Set(tokens(a).map((t) => t.join(','))).size > 1, 'samples of one request differ');
  const third = a.results[0]!.samples[2]!;
  const again = await client.generate({ prompts: [text('What is')], n: 1, sampling: { temperature: 1, seed: third.seed, maxNewTokens: 16, ignoreEos: true } });
  assert.deepEqual(again.results[0]!.samples[0]!.tokenIds, third.tokenIds);
});

test('log-probs of sampled tokens equal the teacher-forced log-probs of the same tokens', async () => {
  const res = await client.generate({ prompts: [text('What is 5+5?')], sampling: { temperature: 1, seed: 7n, maxNewTokens: 10, logprobs: true, ignoreEos: true }, echo: true });
  const sample = res.results[0]!.samples[0]!;
  const scored = await client.scoreCompletions({
    items: [{ prompt: { kind: { case: 'tokens', value: { ids: res.results[0]!.promptTokenIds } } }, completion: { kind: { case: 'tokens', value: { ids: sample.tokenIds } } } }],
    tokenLogprobs: true,
  });
  const r = scored.results[0]!;
  assert.equal(r.numTokens, sample.tokenIds.length);
  sample.logprobs.forEach((lp, i) => assert.ok(Math.abs(lp - r.tokenLogprobs[i]!) < 1e-4, `token ${i}: ${lp} vs ${r.tokenLogprobs[i]}`));
  assert.ok(Math.abs(r.logprob - sample.cumulativeLogprob) < 1e-3);
  // The greedy continuation is greedy.
  const g = await client.generate({ prompts: [text('What is 5+5?')], sampling: greedy, echo: true });
  const gs = await client.scoreCompletions({ items: [{ prompt: { kind: { case: 'tokens', value: { ids: g.results[0]!.promptTokenIds } } }, completion: { kind: { case: 'tokens', value: { ids: g.results[0]!.samples[0]!.tokenIds } } } }] });
  assert.equal(gs.results[0]!.isGreedy, true);
});

test('50 concurrent callers all complete with the right answers', async () => {
  const prompts = Array.from({ length: 50 }, (_, i) => `What is ${i}+${i % 9}?`);
  const expected = new Map<string, number[]>();
  for (const p of new Set(prompts.slice(0, 6))) expected.set(p, await reference(p, 8));
  const results = await Promise.all(prompts.map((p) => client.generate({ prompts: [text(p)], sampling: { ...greedy, maxNewTokens: 8 } })));
  results.forEach((r, i) => {
    assert.equal(r.results[0]!.samples[0]!.tokenIds.length, 8, `caller ${i}`);
    const want = expected.get(prompts[i]!);
    if (want) assert.deepEqual(r.results[0]!.samples[0]!.tokenIds, want, `caller ${i}`);
  });
});

test('a weight push changes outputs and the version; a corrupt push is rejected and the old version keeps serving', async () => {
  const before = await client.generate({ prompts: [text('What is 3+4?')], sampling: greedy });
  assert.equal(before.weightVersion?.number, 0n);
  // New weights: the layers re-drawn at a larger scale (a freshly initialised tiny model with tied
  // embeddings just repeats its last input token, whatever the embedding).
  const next = model.params;
  const rand = gaussian(99);
  const scaled = new Map(next.entries.map((e) => [e.name, { shape: e.shape, data: e.name.includes('layers') && !e.name.includes('norm') ? next.view(e.name).map(() => 0.3 * rand()) : next.view(e.name).slice() }]));
  const chunks = [...weightChunks(scaled, { version: 1n, label: 'perturbed', chunkBytes: 64 << 10 })];
  // Corrupt one chunk's data: rejected with DATA_LOSS, version unchanged.
  const corrupt = chunks.map((c) => create(WeightChunkSchema, { ...c, tensors: c.tensors.map((t) => ({ ...t })) }));
  corrupt[2]!.tensors[0]!.data = corrupt[2]!.tensors[0]!.data.map((b, i) => (i === 0 ? b ^ 0xff : b));
  await assert.rejects(client.pushWeights(corrupt), (e: unknown) => e instanceof ServiceError && e.code === status.DATA_LOSS && /sha256 mismatch/.test(e.message));
  assert.equal((await client.getWeightVersion({})).active?.number, 0n);
  const still = await client.generate({ prompts: [text('What is 3+4?')], sampling: greedy });
  assert.deepEqual(still.results[0]!.samples[0]!.tokenIds, before.results[0]!.samples[0]!.tokenIds);
  // The good push.
  const pushed = await client.pushWeights(chunks);
  assert.equal(pushed.acceptedVersion?.number, 1n);
  assert.equal(pushed.tensors, next.entries.length);
  const after = await client.generate({ prompts: [text('What is 3+4?')], sampling: greedy });
  assert.equal(after.weightVersion?.number, 1n);
  assert.equal(after.results[0]!.samples[0]!.weightVersion, 1n);
  assert.notDeepEqual(after.results[0]!.samples[0]!.tokenIds, before.results[0]!.samples[0]!.tokenIds, `before ${before.results[0]!.samples[0]!.tokenIds} after ${after.results[0]!.samples[0]!.tokenIds}`);
  // An older version number is refused.
  await assert.rejects(client.pushWeights([...weightChunks(scaled, { version: 1n })]), (e: unknown) => e instanceof ServiceError && e.code === status.INVALID_ARGUMENT);
});

test('streaming sends tokens as produced and ends each sample with its finish reason', async () => {
  const pieces: GenerateStreamResponse[] = [];
  for await (const m of client.generateStream({ prompts: [text('What is')], n: 2, sampling: { temperature: 1, seed: 5n, maxNewTokens: 6, ignoreEos: true } })) pieces.push(m);
  const finished = pieces.filter((p) => p.finished);
  assert.equal(finished.length, 2);
  const unary = await client.generate({ prompts: [text('What is')], n: 2, sampling: { temperature: 1, seed: 5n, maxNewTokens: 6, ignoreEos: true } });
  for (const j of [0, 1]) {
    const streamed: number[] = pieces.filter((p) => p.sampleIndex === j).flatMap((p) => p.tokenIds);
    assert.deepEqual(streamed, unary.results[0]!.samples[j]!.tokenIds);
  }
});

test('health answers promptly while the generator is busy; a cancelled stream stops and others carry on', async () => {
  const busy = Promise.all(Array.from({ length: 16 }, (_, i) => client.generate({ prompts: [text(`What is ${i}?`)], sampling: { temperature: 1, seed: BigInt(i), maxNewTokens: 100, ignoreEos: true } })));
  await new Promise((r) => setTimeout(r, 100));
  const t0 = performance.now();
  assert.equal(await healthStatus(role.address), 'SERVING');
  const healthMs = performance.now() - t0;
  assert.ok(healthMs < 250, `health check took ${healthMs.toFixed(1)} ms under load`);
  const ac = new AbortController();
  let received = 0;
  await assert.rejects(
    (async () => {
      for await (const _ of client.generateStream({ prompts: [text('What is')], sampling: { temperature: 1, seed: 1n, maxNewTokens: 100, ignoreEos: true } }, { signal: ac.signal })) {
        if (++received === 3) ac.abort();
      }
    })(),
  );
  assert.ok(received >= 3 && received < 100, `stream stopped after ${received} pieces`);
  const done = await busy;
  assert.ok(done.every((r) => r.results[0]!.samples[0]!.tokenIds.length === 100), 'the other callers completed in full');
});
