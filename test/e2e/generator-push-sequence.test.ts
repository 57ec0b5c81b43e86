// A sequence of weight pushes through the real generator process: a push holding NaN is refused
// (INVALID_ARGUMENT naming the tensor and the element) and the served version and outputs stay as
// they were; and after any activation, greedy tokens and log-probs equal those of a generator freshly
// started on the same weights, even when the previous version left non-finite keys/values in the
// engine's KV cache (finite but extreme weights: a masked cache slot holding ±Inf/NaN used to poison
// every later decode step, since an additive mask bias cannot hide it: NaN·0 = NaN).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSafetensors } from '@juice/checkpoint';
import { createDefaultModel, gaussian, loadModel } from '@juice/models';
import { GeneratorService } from '@juice/proto';
import { createClient, ServiceError, status } from '@juice/service-kit';
import { weightChunks, type PushTensor } from '@juice/weight-sync';
import { startRole, type RunningRole } from '../support/spawn-service.js';

const root = mkdtempSync(join(tmpdir(), 'juice-push-seq-'));
const corpus = Array.from({ length: 200 }, (_, i) => `What is ${i}+${i % 9}? ${i}+${i % 9}=${i + (i % 9)}`);
const initialDir = join(root, 'initial');
createDefaultModel(initialDir, { corpus, seed: 3 });
const initial = loadModel(initialDir).params;

type Weights = Map<string, PushTensor>;
const copy = (w: Weights): Weights => new Map([...w].map(([n, t]) => [n, { shape: t.shape, data: t.data.slice() }]));

// A: the layers re-drawn at a larger scale, so greedy output is not a repeat of the last prompt token.
const rand = gaussian(99);
const A: Weights = new Map(initial.entries.map((e) => [e.name, { shape: e.shape, data: e.name.includes('layers') && !e.name.includes('norm') ? initial.view(e.name).map(() => 0.3 * rand()) : initial.view(e.name).slice() }]));
// The same tokenizer and config with A's weights: what a fresh generator on A loads.
const aDir = join(root, 'a');
createDefaultModel(aDir, { corpus, seed: 3 });
writeSafetensors(join(aDir, 'model.safetensors'), [...A].map(([n, t]) => [n, { dtype: 'F32', shape: t.shape, data: t.data }]));

// B: finite, but keys and values overflow to ±Inf (and Inf - Inf = NaN) in every layer.
const B = copy(A);
for (const [name, t] of B) if (/self_attn\.(k|v)_proj\.weight$/.test(name)) t.data.forEach((_, i) => (t.data[i] = i % 2 ? -3e38 : 3e38));

let served: RunningRole;
let fresh: RunningRole;
let client: ReturnType<typeof createClient<typeof GeneratorService>>;
let freshClient: ReturnType<typeof createClient<typeof GeneratorService>>;

before(async () => {
  [served, fresh] = await Promise.all([startRole('generator', ['--model', initialDir, '--max-batch', '4']), startRole('generator', ['--model', aDir, '--max-batch', '4'])]);
  client = createClient(GeneratorService, served.address);
  freshClient = createClient(GeneratorService, fresh.address);
});
after(async () => {
  client?.close();
  freshClient?.close();
  await Promise.all([served?.stop(), fresh?.stop()]);
});

// One prompt per call: a single engine row, so the arithmetic is the same in both processes.
async function greedy(c: typeof client, maxNewTokens = 24) {
  const res = await c.generate({ prompts: [{ kind: { case: 'text', value: 'What is 3+4?' } }], sampling: { temperature: 0, maxNewTokens, ignoreEos: true, logprobs: true } });
  const s = res.results[0]!.samples[0]!;
  return { tokens: s.tokenIds, logprobs: s.logprobs, version: s.weightVersion };
}
const decoded = (o: { tokens: number[]; logprobs: number[] }) => ({ tokens: o.tokens, logprobs: o.logprobs });
const push = (w: Weights, version: bigint, stageOnly = false) => client.pushWeights([...weightChunks(w, { version, stageOnly, chunkBytes: 64 << 10 })]);

test('a NaN push is refused naming the tensor; after any activation decoding equals a fresh generator on the same weights', async () => {
  const reference = await greedy(freshClient);
  assert.ok(new Set(reference.tokens).size > 1, `A's greedy output is not a single repeated token: ${reference.tokens}`);
  assert.ok(reference.logprobs.every(Number.isFinite));

  assert.equal((await push(A, 1n)).acceptedVersion?.number, 1n);
  const onA = await greedy(client);
  assert.equal(onA.version, 1n);
  assert.deepEqual(decoded(onA), decoded(reference));

  // NaN in one element of one tensor: refused, nothing changes.
  const nan = copy(A);
  nan.get('model.layers.1.mlp.down_proj.weight')!.data[37] = NaN;
  await assert.rejects(push(nan, 2n), (e: unknown) => e instanceof ServiceError && e.code === status.INVALID_ARGUMENT && /"model\.layers\.1\.mlp\.down_proj\.weight"/.test(e.message) && /element 37\b/.test(e.message) && /NaN/.test(e.message));
  assert.equal((await client.getWeightVersion({})).active?.number, 1n);
  assert.deepEqual(decoded(await greedy(client)), decoded(reference));

  // B is accepted (finite) and fills the cache rows it decodes with non-finite keys/values.
  assert.equal((await push(B, 2n)).acceptedVersion?.number, 2n);
  const onB = await greedy(client, 60);
  assert.ok(onB.logprobs.some((v) => !Number.isFinite(v)), `B was meant to produce non-finite activations: ${onB.logprobs.slice(0, 4)}`);

  // A pushed back (activated by the push): exactly the fresh generator's output.
  assert.equal((await push(A, 3n)).acceptedVersion?.number, 3n);
  const back = await greedy(client);
  assert.equal(back.version, 3n);
  assert.deepEqual(decoded(back), decoded(reference));

  // The same through a staged push and ActivateWeights.
  await push(B, 4n);
  await greedy(client, 60);
  const staged = await push(A, 5n, true);
  assert.equal(staged.activated, false);
  assert.equal((await client.activateWeights({ version: 5n })).active?.number, 5n);
  const activated = await greedy(client);
  assert.equal(activated.version, 5n);
  assert.deepEqual(decoded(activated), decoded(reference));
});
