// The trainer-state files round-trip exactly through the checkpoint store (optimizer moments, buffers,
// samples, cursor), corruption is refused by name, and the held-out evaluators compute what their
// metric names say (checked against the training graph's own loss and the closed form at π = π_ref).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TrainStep } from '@juice/algorithms';
import { CheckpointStore } from '@juice/checkpoint';
import { collateBatch, type TokenizedExample } from '@juice/data';
import { buildCausalLm, initParameters, type ModelConfig } from '@juice/models';
import { AdamW } from '@juice/optim';
import { demonstrationEvaluator, pairEvaluator } from '../src/runners/held-out-eval.js';
import { encodeTrainerState, readTrainerState, resumableVersion, TRAINER_STATE_FILE } from '../src/runners/trainer-state.js';

const config: ModelConfig = {
  architecture: 'llama', vocabSize: 16, hiddenSize: 32, intermediateSize: 64, numLayers: 1, numHeads: 4, numKvHeads: 2,
  headDim: 8, rmsNormEps: 1e-6, ropeTheta: 10000, maxPositions: 32, tieWordEmbeddings: false, qkvBias: false,
};
const examples: TokenizedExample[] = Array.from({ length: 6 }, (_, i) => ({ promptIds: [1, 2 + i, 3], responseIds: [4 + (i % 5), 5, 14].slice(0, 1 + (i % 3)), truncated: false }));

test('trainer state round-trips through a store version and is found as the resume point', () => {
  const store = CheckpointStore.open(mkdtempSync(join(tmpdir(), 'juice-state-')));
  const params = initParameters(config, 1, 0.1);
  const opt = new AdamW(params, { lr: 1e-3 });
  const grads = params.gradBuffer().map((_, i) => Math.sin(i));
  opt.step(grads);
  opt.step(grads);
  const reference = params.clone();
  const files = encodeTrainerState({
    state: { algorithm: 'IRFT', configSha256: 'abc', step: 7, epoch: 1, stage: 2, stageStep: 3, cursor: { epoch: 1, rowsConsumed: 8, shuffleSeed: 44 }, rng: { seed: 42, shuffle: true }, tokens: '123456789012345678', metrics: { loss: 0.5 } },
    optimizers: { policy: opt.state() },
    buffers: { reference: reference.data },
    stageSamples: { weightVersion: '3', responses: [[1, 2], [3]] },
  });
  store.save('job1', 1, { files: { 'model.safetensors': 'not read here' } });
  store.save('job1', 2, { files: { ...files, 'model.safetensors': 'not read here' } });
  assert.equal(resumableVersion(store, 'job1'), 2, 'the newest version with trainer state');
  const r = readTrainerState(store, 'job1', 2);
  assert.equal(r.state.step, 7);
  assert.deepEqual(r.state.cursor, { epoch: 1, rowsConsumed: 8, shuffleSeed: 44 });
  assert.equal(r.state.stageSamplesReady, true);
  assert.deepEqual(r.stageSamples?.responses, [[1, 2], [3]]);
  assert.deepEqual(r.buffers.reference, reference.data);
  const s = opt.state();
  assert.equal(r.optimizers.policy!.step, 2);
  assert.deepEqual(r.optimizers.policy!.m, s.m);
  assert.deepEqual(r.optimizers.policy!.v, s.v);
  // A flipped byte in a state file is caught by the manifest hash, naming the file.
  writeFileSync(join(store.dir('job1', 2), TRAINER_STATE_FILE), (files[TRAINER_STATE_FILE] as string).replace('"step": 7', '"step": 8'));
  assert.throws(() => readTrainerState(store, 'job1', 2), /trainer_state\.json is corrupt/);
  assert.throws(() => resumableVersion(store, 'job1', 5), /checkpoint_version 5 .* does not exist/);
});

test('held-out demonstration NLL equals the training graph loss on the same batch; pairwise eval at π = π_ref is ln 2', async () => {
  const params = initParameters(config, 2, 0.1);
  const ev = await demonstrationEvaluator({ config, params, examples, padTokenId: 0, batchSize: 4 }); // two batches
  const { 'eval/nll': nll, 'eval/loss': loss } = await ev.evaluate(params);
  await ev.release();
  const train = await TrainStep.create(buildCausalLm(config).graph, params);
  const b = collateBatch(examples, { padTokenId: 0 });
  const r = await train.run({ input_ids: { data: b.inputIds, dims: [b.batchSize, b.seqLen] }, attention_mask: { data: b.attentionMask, dims: [b.batchSize, b.seqLen] }, labels: { data: b.labels, dims: [b.batchSize, b.seqLen] } });
  await train.release();
  assert.ok(Math.abs(nll! - r.loss) < 1e-5, `token-weighted NLL ${nll} vs one-batch token-mean loss ${r.loss}`);
  assert.equal(loss, nll);

  const pairs = examples.map((e) => ({ chosen: e, rejected: { ...e, responseIds: [...e.responseIds].reverse().concat(6) } }));
  const pe = await pairEvaluator({ config, params, reference: params.clone(), pairs, beta: 0.5, loss: 'logistic', padTokenId: 0, batchSize: 4 });
  const m = await pe.evaluate(params);
  assert.ok(Math.abs(m['eval/loss']! - Math.LN2) < 1e-6 && m['eval/reward_margin'] === 0 && m['eval/reward_accuracy'] === 0, JSON.stringify(m));
  // After moving the policy the loss changes; by Jensen, mean −log σ(u) ≥ −log σ(mean u).
  const moved = params.clone();
  for (let i = 0; i < moved.data.length; i++) moved.data[i]! *= 1.3;
  const m2 = await pe.evaluate(moved);
  await pe.release();
  assert.notEqual(m2['eval/loss'], m['eval/loss']);
  assert.ok(m2['eval/loss']! >= Math.log1p(Math.exp(-m2['eval/reward_margin']!)) - 1e-9, JSON.stringify(m2));
});
