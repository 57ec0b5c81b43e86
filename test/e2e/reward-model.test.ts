// The reward-model as its own process over real gRPC: Score equals the in-process reward graph on the
// same weights, Compare is σ of the reward difference, concurrent callers (batched together) get the
// same answers as single calls, and a corrupt push leaves the served version untouched.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { clone } from '@bufbuild/protobuf';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRewardModel, createDefaultModel, encodePromptResponse, gaussian, loadModel, rewardParameterShapes } from '@juice/models';
import { toModelBytes } from '@juice/onnx';
import { ParamSet } from '@juice/optim';
import { RewardModelService, WeightChunkSchema } from '@juice/proto';
import { createSession } from '@juice/runtime';
import { createClient, ServiceError, status } from '@juice/service-kit';
import { weightChunks } from '@juice/weight-sync';
import { startRole, type RunningRole } from '../support/spawn-service.js';

const dir = join(mkdtempSync(join(tmpdir(), 'juice-rm-')), 'model');
createDefaultModel(dir, { corpus: Array.from({ length: 100 }, (_, i) => `What is ${i}+1? ${i + 1}`), seed: 4 });
const lm = loadModel(dir);
let role: RunningRole;
let client: ReturnType<typeof createClient<typeof RewardModelService>>;
before(async () => {
  role = await startRole('reward-model', ['--model', dir]);
  client = createClient(RewardModelService, role.address);
});
after(async () => {
  client.close();
  await role.stop();
});

const text = (value: string) => ({ kind: { case: 'text' as const, value } });
// Known reward weights: the LM backbone plus a score head drawn here, pushed as version 1.
const params = new ParamSet(rewardParameterShapes(lm.config));
for (const e of params.entries) if (lm.params.has(e.name)) params.set(e.name, lm.params.view(e.name));
const rand = gaussian(7);
params.view('score.weight').forEach((_, i, a) => (a[i] = rand()));

async function inProcess(prompt: string, response: string): Promise<number> {
  const s = await createSession(toModelBytes(buildRewardModel(lm.config).graph));
  const ids = encodePromptResponse(lm.tokenizer, text(prompt) as never, text(response) as never, 'x');
  const feeds = Object.fromEntries(params.entries.map((e) => [e.name, { data: params.view(e.name), dims: e.shape as number[] }]));
  const out = await s.run({ ...feeds, input_ids: { data: BigInt64Array.from(ids.map(BigInt)), dims: [1, ids.length] }, attention_mask: { data: new BigInt64Array(ids.length).fill(1n), dims: [1, ids.length] } });
  return (out.rewards!.data as Float32Array)[0]!;
}

test('a push installs known weights; Score equals the in-process reward graph; Compare is σ(rA − rB)', async () => {
  const tensors = new Map(params.entries.map((e) => [e.name, { shape: e.shape, data: params.view(e.name) }]));
  const pushed = await client.pushWeights([...weightChunks(tensors, { version: 1n, label: 'rm-1' })]);
  assert.equal(pushed.acceptedVersion?.number, 1n);
  const res = await client.score({ items: [{ prompt: text('What is 2+1?'), response: text(' 3') }, { prompt: text('What is 2+1?'), response: text(' 9') }] });
  assert.equal(res.weightVersion?.number, 1n);
  const [a, b] = [await inProcess('What is 2+1?', ' 3'), await inProcess('What is 2+1?', ' 9')];
  assert.ok(Math.abs(res.results[0]!.reward - a) < 1e-5 && Math.abs(res.results[1]!.reward - b) < 1e-5, `${res.results.map((r) => r.reward)} vs ${a}, ${b}`);
  const cmp = await client.compare({ pairs: [{ prompt: text('What is 2+1?'), responseA: text(' 3'), responseB: text(' 9') }] });
  assert.ok(Math.abs(cmp.results[0]!.probAPreferred - 1 / (1 + Math.exp(-(a - b)))) < 1e-5);
});

test('concurrent callers are batched together and get the same answers as single calls', async () => {
  const items = Array.from({ length: 24 }, (_, i) => ({ prompt: text(`What is ${i}+1?`), response: text(` ${i + 1}`) }));
  const single: number[] = [];
  for (const it of items.slice(0, 4)) single.push((await client.score({ items: [it] })).results[0]!.reward);
  const together = await Promise.all(items.map((it) => client.score({ items: [it] })));
  together.slice(0, 4).forEach((r, i) => assert.ok(Math.abs(r.results[0]!.reward - single[i]!) < 1e-5));
});

test('a corrupt push is DATA_LOSS and the served version keeps answering', async () => {
  const tensors = new Map(params.entries.map((e) => [e.name, { shape: e.shape, data: params.view(e.name).map((v) => -v) }]));
  const chunks = [...weightChunks(tensors, { version: 2n, chunkBytes: 256 << 10 })].map((c) => clone(WeightChunkSchema, c));
  chunks[1]!.tensors[0]!.data = chunks[1]!.tensors[0]!.data.map((x, i) => (i === 3 ? x ^ 1 : x));
  await assert.rejects(client.pushWeights(chunks), (e: unknown) => e instanceof ServiceError && e.code === status.DATA_LOSS);
  assert.equal((await client.getWeightVersion({})).active?.number, 1n);
  assert.equal((await client.score({ items: [{ prompt: text('hi'), response: text(' there') }] })).weightVersion?.number, 1n);
});
