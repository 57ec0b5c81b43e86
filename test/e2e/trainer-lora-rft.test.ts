// A LoRA RFT job across services (issue #14): the policy is adapters (+ APA's value head) on the frozen base;
// every round pushes ONLY the adapter to the generator (its own process, serving the job's base with
// --max-adapters), samples from it by name, scores with the reward-model service, and updates the adapters;
// π_ref is the base itself. Push bytes = adapter bytes; the checkpoint is a PEFT directory.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSyntheticDatasets } from '@juice/data';
import { createDefaultModel, loadModel, loraParameterShapes } from '@juice/models';
import { Algorithm, DataSchema, GeneratorService, JobState, TrainerService, type WatchJobResponse } from '@juice/proto';
import { createClient } from '@juice/service-kit';
import { startRole, type RunningRole } from '../support/spawn-service.js';

const work = mkdtempSync(join(tmpdir(), 'juice-lora-rft-'));
const baseDir = join(work, 'base');
let roles: RunningRole[] = [];
let client: ReturnType<typeof createClient<typeof TrainerService>>;
let gen: ReturnType<typeof createClient<typeof GeneratorService>>;
let trainFile: string;

before(async () => {
  const data = await writeSyntheticDatasets(join(work, 'data'), { seed: 4, trainSize: 32, evalSize: 8 });
  trainFile = data.files.train;
  createDefaultModel(baseDir, { corpus: readFileSync(trainFile, 'utf8').split('\n').filter(Boolean), seed: 5 });
  const [generator, rewardModel] = await Promise.all([startRole('generator', ['--model', baseDir, '--max-adapters', '1']), startRole('reward-model', ['--model', baseDir])]);
  const trainer = await startRole('trainer', ['--store', join(work, 'store'), '--generator', generator.address, '--reward-model', rewardModel.address]);
  roles = [trainer, generator, rewardModel];
  client = createClient(TrainerService, trainer.address);
  gen = createClient(GeneratorService, generator.address);
});
after(async () => {
  client?.close();
  gen?.close();
  await Promise.all(roles.map((r) => r.stop()));
});

const ROUNDS = 2;
const lora = { rank: 4, alpha: 8, targetModules: ['q_proj', 'v_proj'] };

test('LoRA RFT pushes only the adapter each round (bytes = adapter bytes), samples from it by name and checkpoints PEFT', async (t) => {
  const base = loadModel(baseDir);
  const adapterBytes = loraParameterShapes(base.config, lora).reduce((n, s) => n + 4 * s.shape.reduce((a, b) => a * b, 1), 0);
  const { job } = await client.startJob({
    spec: {
      algorithm: Algorithm.RFT,
      model: { kind: { case: 'hfDir', value: baseDir } },
      datasets: [{ path: trainFile, schema: DataSchema.CHAT }],
      hyperparameters: { batchSize: 8, learningRate: 1e-2, lora },
      algorithmConfig: { case: 'rft', value: { rounds: ROUNDS, promptsPerRound: 8, samplesPerPrompt: 2, policyEpochs: 1, generation: { maxNewTokens: 12 }, rewardUpdate: { learningRate: 3e-3, epochs: 1 } } },
    },
  });
  const events: WatchJobResponse[] = [];
  for await (const e of client.watchJob({ jobId: job!.id, fromBeginning: true })) events.push(e);
  const errors = events.filter((e) => e.event.case === 'error').map((e) => JSON.stringify(e.event.value));
  const final = events.filter((e) => e.event.case === 'stateChange').at(-1)!;
  assert.equal(final.event.case === 'stateChange' && final.event.value.to, JobState.SUCCEEDED, errors.join('\n'));

  const pushes = events.flatMap((e) => (e.event.case === 'weightsPushed' && e.event.value.target === 'generator' ? [e.event.value] : []));
  t.diagnostic(`generator push bytes ${pushes.map((p) => p.bytes).join(', ')}; adapter ${adapterBytes} B; full model ${4 * base.params.numParams} B`);
  assert.equal(pushes.length, ROUNDS + 1, 'the policy is pushed before each round and once at the end');
  for (const p of pushes) assert.equal(Number(p.bytes), adapterBytes, 'push bytes = adapter bytes');
  const info = (await gen.getModelInfo({})).model!;
  const held = info.adapters.find((a) => a.name === `juice-${job!.id}`.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64));
  assert.ok(held, 'the generator holds the job\'s adapter');
  assert.equal(held.version, pushes.at(-1)!.version);
  const ckpt = (await client.getJob({ jobId: job!.id })).job!.lastCheckpoint!.path;
  assert.ok(existsSync(join(ckpt, 'adapter_model.safetensors')) && !existsSync(join(ckpt, 'model.safetensors')), 'the checkpoint is a PEFT adapter directory');
  const kl = events.flatMap((e) => (e.event.case === 'stepMetrics' && e.event.value.metrics['kl'] !== undefined ? [e.event.value.metrics['kl']] : []));
  assert.ok(kl.length > 0 && Math.abs(kl[0]!) < 1e-4, `round 1 samples from π = π_ref (the base; B = 0): kl ${kl[0]}`);
});
