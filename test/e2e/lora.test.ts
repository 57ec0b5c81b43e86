// LoRA serving over real gRPC: adapters pushed with lora_adapter_only (push bytes = adapter bytes) to a
// generator started with --max-adapters; greedy output with an adapter equals a generator serving the
// merged model (W + scaling·B·A); two adapters and the base requested concurrently share one batch and
// each equals its own merged model; ModelInfo lists the adapters; a removed adapter is NOT_FOUND.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSafetensors } from '@juice/checkpoint';
import { createDefaultModel, initLora, loadModel, mergeLora, type LoraSpec } from '@juice/models';
import { create } from '@bufbuild/protobuf';
import { GeneratorService, LoraConfigSchema, type WeightChunk } from '@juice/proto';
import { createClient, ServiceError, status } from '@juice/service-kit';
import { weightChunks } from '@juice/weight-sync';
import type { ParamSet } from '@juice/optim';
import { startRole, type RunningRole } from '../support/spawn-service.js';

const root = mkdtempSync(join(tmpdir(), 'juice-lora-'));
const corpus = Array.from({ length: 200 }, (_, i) => `What is ${i}+${i % 9}? ${i}+${i % 9}=${i + (i % 9)}`);
const baseDir = join(root, 'base');
createDefaultModel(baseDir, { corpus, seed: 3 });
const base = loadModel(baseDir);

const specs: Record<string, LoraSpec> = {
  math: { rank: 4, alpha: 8, targetModules: ['q_proj', 'v_proj', 'down_proj'] },
  poet: { rank: 2, alpha: 4, targetModules: ['all-linear'], useRslora: true },
};
const adapters: Record<string, ParamSet> = {};
const mergedDirs: Record<string, string> = {};
for (const [i, [name, spec]] of Object.entries(specs).entries()) {
  const p = initLora(base.config, spec, 10 + i);
  // B ≠ 0 (PEFT starts at 0), large enough that greedy output differs from the base.
  for (const e of p.entries) if (e.name.includes('lora_B')) { const v = p.view(e.name); for (let k = 0; k < v.length; k++) v[k] = 0.4 * Math.sin(7 * k + i); }
  adapters[name] = p;
  const merged = mergeLora(base.config, base.params, p, spec);
  mergedDirs[name] = join(root, name);
  createDefaultModel(mergedDirs[name], { corpus, seed: 3 });
  writeSafetensors(join(mergedDirs[name], 'model.safetensors'), merged.entries.map((e) => [e.name, { dtype: 'F32', shape: e.shape, data: merged.view(e.name) }]));
}

type Client = ReturnType<typeof createClient<typeof GeneratorService>>;
let roles: RunningRole[] = [];
let served: Client;
const mergedClients: Record<string, Client> = {};

before(async () => {
  roles = await Promise.all([startRole('generator', ['--model', baseDir, '--max-batch', '4', '--max-adapters', '2']), ...Object.values(mergedDirs).map((d) => startRole('generator', ['--model', d, '--max-batch', '4']))]);
  served = createClient(GeneratorService, roles[0]!.address);
  Object.keys(mergedDirs).forEach((n, i) => (mergedClients[n] = createClient(GeneratorService, roles[i + 1]!.address)));
});
after(async () => {
  served?.close();
  for (const c of Object.values(mergedClients)) c.close();
  await Promise.all(roles.map((r) => r.stop()));
});

function adapterPush(name: string, version: bigint): { chunks: AsyncIterable<WeightChunk>; bytes: number } {
  const p = adapters[name]!;
  const s = specs[name]!;
  const tensors = new Map(p.entries.map((e) => [e.name, { shape: e.shape, data: p.view(e.name) }]));
  const chunks = [...weightChunks(tensors, { version, chunkBytes: 8192 })];
  Object.assign(chunks[0]!.header!, { loraAdapterOnly: true, adapterName: name, lora: create(LoraConfigSchema, { rank: s.rank, alpha: s.alpha, targetModules: [...s.targetModules!], useRslora: !!s.useRslora }) });
  return { chunks: (async function* () { yield* chunks; })(), bytes: p.entries.reduce((a, e) => a + p.view(e.name).byteLength, 0) };
}

const greedy = async (c: Client, adapter: string, prompt: string) => {
  const res = await c.generate({ prompts: [{ kind: { case: 'text', value: prompt } }], adapter, sampling: { temperature: 0, maxNewTokens: 16, ignoreEos: true, logprobs: true } });
  const s = res.results[0]!.samples[0]!;
  return { tokens: s.tokenIds, logprobs: s.logprobs, version: s.weightVersion };
};

test('adapter pushes carry adapter bytes only; mixed-adapter batches equal the merged models; removal → NOT_FOUND', async () => {
  let version = 1n;
  for (const name of Object.keys(specs)) {
    const push = adapterPush(name, version++);
    const r = await served.pushWeights(push.chunks);
    assert.equal(Number(r.bytes), push.bytes, `${name}: push bytes = adapter bytes`);
    assert.ok(push.bytes < base.params.numParams * 4 / 5, 'far below the base');
  }
  const info = await served.getModelInfo({});
  assert.deepEqual(info.model!.adapters.map((a) => a.name), ['math', 'poet']);
  assert.equal(info.model!.weightVersion!.number, 2n, 'each adapter push is a version');

  const prompts = ['What is 3+4?', 'What is 12+5?'];
  // Concurrent: base and both adapters, two prompts each, land in one continuous batch (max-batch 4).
  const calls = prompts.flatMap((p) => ['', 'math', 'poet'].map((a) => ({ p, a })));
  const got = await Promise.all(calls.map(({ p, a }) => greedy(served, a, p)));
  const baseOut = await Promise.all(prompts.map((p) => greedy(served, '', p)));
  for (const [i, { p, a }] of calls.entries()) {
    const want = a ? await greedy(mergedClients[a]!, '', p) : baseOut[prompts.indexOf(p)]!;
    assert.deepEqual(got[i]!.tokens, want.tokens, `${a || 'base'} on ${p}: tokens equal the merged model's`);
    got[i]!.logprobs.forEach((l, k) => assert.ok(Math.abs(l - want.logprobs[k]!) < 1e-3, `${a} logprob ${k}: ${l} vs ${want.logprobs[k]}`));
  }
  assert.notDeepEqual(got[1]!.tokens, got[0]!.tokens, 'the adapter changes the output');

  await served.removeAdapter({ name: 'math' });
  await assert.rejects(greedy(served, 'math', prompts[0]!), (e: unknown) => e instanceof ServiceError && e.code === status.NOT_FOUND);
  await assert.rejects(served.removeAdapter({ name: 'math' }), (e: unknown) => e instanceof ServiceError && e.code === status.NOT_FOUND);
  assert.deepEqual((await greedy(served, 'poet', prompts[0]!)).tokens, (await greedy(mergedClients.poet!, '', prompts[0]!)).tokens, 'the other adapter stays');
  // Scoring with adapters (= the merged model) is covered by lora-score.test.ts; a removed one is NOT_FOUND there too.
  await assert.rejects(served.scoreCompletions({ items: [{ prompt: { kind: { case: 'text', value: 'a' } }, completion: { kind: { case: 'text', value: ' b' } } }], adapter: 'math' }), (e: unknown) => e instanceof ServiceError && e.code === status.NOT_FOUND);
});
