// The reward-model process refuses non-finite weight pushes like the generator (both use
// @juice/weight-sync): ±Inf in a FULL push, and an ADD delta whose sum with the served weights
// overflows float32, are INVALID_ARGUMENT naming the tensor and element; the service stays up and keeps
// serving the version and scores it had.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDefaultModel, loadModel, rewardParameterShapes } from '@juice/models';
import { ParamSet } from '@juice/optim';
import { RewardModelService, WeightDeltaMode } from '@juice/proto';
import { createClient, ServiceError, status } from '@juice/service-kit';
import { weightChunks } from '@juice/weight-sync';
import { startRole, type RunningRole } from '../support/spawn-service.js';

const dir = join(mkdtempSync(join(tmpdir(), 'juice-rm-nonfinite-')), 'model');
createDefaultModel(dir, { corpus: Array.from({ length: 100 }, (_, i) => `What is ${i}+1? ${i + 1}`), seed: 4 });
const lm = loadModel(dir);
let role: RunningRole;
let client: ReturnType<typeof createClient<typeof RewardModelService>>;
before(async () => {
  role = await startRole('reward-model', ['--model', dir]);
  client = createClient(RewardModelService, role.address);
});
after(async () => {
  client?.close();
  await role?.stop();
});

const item = { prompt: { kind: { case: 'text' as const, value: 'What is 2+1?' } }, response: { kind: { case: 'text' as const, value: ' 3' } } };
const params = new ParamSet(rewardParameterShapes(lm.config));
for (const e of params.entries) if (lm.params.has(e.name)) params.set(e.name, lm.params.view(e.name));
params.view('score.weight').forEach((_, i, a) => (a[i] = Math.cos(i)));
const full = () => new Map(params.entries.map((e) => [e.name, { shape: e.shape, data: params.view(e.name).slice() }]));
const refusedNaming = (text: RegExp) => (e: unknown) => e instanceof ServiceError && e.code === status.INVALID_ARGUMENT && text.test(e.message);

test('Inf in a push and an overflowing ADD delta are refused naming the tensor; the served version keeps scoring', async () => {
  assert.equal((await client.pushWeights([...weightChunks(full(), { version: 1n })])).acceptedVersion?.number, 1n);
  const before = (await client.score({ items: [item] })).results[0]!.reward;
  assert.ok(Number.isFinite(before));

  const inf = full();
  inf.get('score.weight')!.data[3] = -Infinity;
  await assert.rejects(client.pushWeights([...weightChunks(inf, { version: 2n })]), refusedNaming(/"score\.weight" element 3 .*is -Inf/));

  const norm = 'model.norm.weight';
  const big = new Map([[norm, { shape: [lm.config.hiddenSize], data: new Float32Array(lm.config.hiddenSize).fill(3.4e38) }]]);
  const once = await client.pushWeights([...weightChunks(big, { version: 2n, deltaMode: WeightDeltaMode.ADD, baseVersion: 1n })]);
  assert.equal(once.acceptedVersion?.number, 2n, 'a large but representable sum is accepted');
  await assert.rejects(client.pushWeights([...weightChunks(big, { version: 3n, deltaMode: WeightDeltaMode.ADD, baseVersion: 2n })]), refusedNaming(/"model\.norm\.weight" element 0 .*is \+Inf in base version 2 \+ the ADD delta/));

  assert.equal((await client.getWeightVersion({})).active?.number, 2n);
  // Back to version 1's weights as version 3: the same score as before the refused pushes.
  assert.equal((await client.pushWeights([...weightChunks(full(), { version: 3n })])).acceptedVersion?.number, 3n);
  const res = await client.score({ items: [item] });
  assert.equal(res.weightVersion?.number, 3n);
  assert.equal(res.results[0]!.reward, before);
});
