// WeightSyncConfig end to end (issue #11): a generator and a trainer, each its own process on loopback,
// a tiny Llama. An IRFT job with every option set (delta, two_phase, chunk_bytes, timeout_seconds,
// every_n_steps) succeeds, and its WeightsPushed events show what the options did: every_n_steps adds
// pushes between the stage-start pushes (none at a stage's end, where the next stage pushes the same
// weights), each stage samples from its own stage-start push, and the generator ends serving the last
// push. Full-parameter IRFT changes every tensor at every step (nothing is frozen), so a delta push
// carries every tensor: its bytes equal the full push's, and this test asserts exactly that.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { writeSyntheticDatasets } from '@juice/data';
import { createDefaultModel, DEFAULT_MODEL_CONFIG } from '@juice/models';
import { Algorithm, DataSchema, GeneratorService, JobState, TrainerService, type WatchJobResponse } from '@juice/proto';
import { createClient } from '@juice/service-kit';
import { startRole, type RunningRole } from '../support/spawn-service.js';

const work = mkdtempSync(join(tmpdir(), 'juice-weight-sync-'));
const model = join(work, 'model');
let generator: RunningRole;
let trainer: RunningRole;
let data: Awaited<ReturnType<typeof writeSyntheticDatasets>>;

before(async () => {
  const config = { ...DEFAULT_MODEL_CONFIG, hiddenSize: 32, intermediateSize: 64, numLayers: 1, numHeads: 2, numKvHeads: 1, headDim: 16 };
  createDefaultModel(model, { corpus: Array.from({ length: 40 }, (_, i) => `What is ${i}+${i % 5}? ${i + (i % 5)}`), seed: 7, config });
  data = await writeSyntheticDatasets(join(work, 'data'), { seed: 4, trainSize: 16, evalSize: 4 });
  generator = await startRole('generator', ['--model', model]);
  trainer = await startRole('trainer', ['--store', join(work, 'store'), '--generator', generator.address]);
});
after(async () => {
  await Promise.all([trainer, generator].map((r) => r?.stop()));
});

type Spec = Parameters<ReturnType<typeof createClient<typeof TrainerService>>['startJob']>[0]['spec'];
const irft = (weightSync?: NonNullable<Spec>['weightSync']): Spec => ({
  algorithm: Algorithm.IRFT,
  model: { kind: { case: 'hfDir', value: model } },
  datasets: [{ path: data.files.train, schema: DataSchema.CHAT, maxRows: 8n }],
  hyperparameters: { batchSize: 4, learningRate: 3e-3 },
  algorithmConfig: { case: 'irft', value: { stages: 2, stepsPerStage: 2n, beta: 0.5, generationBatchSize: 4, generation: { temperature: 0, maxNewTokens: 6 } } },
  weightSync,
});

async function run(spec: Spec): Promise<WatchJobResponse[]> {
  const client = createClient(TrainerService, trainer.address);
  try {
    const { job } = await client.startJob({ spec });
    const evs: WatchJobResponse[] = [];
    for await (const e of client.watchJob({ jobId: job!.id, fromBeginning: true })) evs.push(e);
    const errors = evs.filter((e) => e.event.case === 'error').map((e) => JSON.stringify(e.event.value));
    const final = evs.filter((e) => e.event.case === 'stateChange').at(-1)!;
    assert.equal(final.event.case === 'stateChange' && final.event.value.to, JobState.SUCCEEDED, errors.join('\n'));
    return evs;
  } finally {
    client.close();
  }
}
const pushesOf = (evs: WatchJobResponse[]) => evs.flatMap((e) => (e.event.case === 'weightsPushed' ? [e.event.value] : []));
const stageVersionsOf = (evs: WatchJobResponse[]) => evs.flatMap((e) => (e.event.case === 'stepMetrics' && e.event.value.metrics['gen/weight_version'] !== undefined ? [BigInt(e.event.value.metrics['gen/weight_version'])] : []));

test('IRFT with every weight_sync option: more pushes with every_n_steps, delta bytes = full bytes (nothing frozen), the generator ends on the last push', async () => {
  // Defaults: no every_n_steps, full pushes, one-phase (two_phase false).
  const plainEvs = await run(irft());
  const plain = pushesOf(plainEvs);
  assert.equal(plain.length, 2, 'one push per stage without every_n_steps');

  const evs = await run(irft({ everyNSteps: 1n, delta: true, twoPhase: true, chunkBytes: 64 << 10, timeoutSeconds: 60 }));
  const pushes = pushesOf(evs);
  // stage 1 start, after step 1, (step 2 ends stage 1: the stage-2 push follows), stage 2 start, after steps 3 and 4.
  assert.equal(pushes.length, 5, `pushes: ${pushes.map((p) => p.version).join(', ')}`);
  const stageStarts = stageVersionsOf(evs);
  assert.deepEqual(stageStarts, [pushes[0]!.version, pushes[2]!.version], 'each stage samples from its stage-start push');
  for (let i = 1; i < pushes.length; i++) assert.equal(pushes[i]!.version, pushes[i - 1]!.version + 1n);
  // The first push of the job has no kept base (full); the rest are deltas of all tensors, so the same bytes.
  assert.ok(pushes.every((p) => p.bytes === plain[0]!.bytes && p.replicas === 1), `bytes: ${pushes.map((p) => p.bytes).join(', ')} vs full ${plain[0]!.bytes}`);
  // The job log says which pushes went as deltas: all but the first, each with every tensor.
  const logged = evs.flatMap((e) => (e.event.case === 'log' && e.event.value.attributes['delta_replicas'] !== undefined ? [e.event.value.attributes] : []));
  assert.deepEqual(logged.map((a) => a['version']), pushes.map((p) => String(p.version)));
  assert.deepEqual(logged.map((a) => a['delta_replicas']), ['0', '1', '1', '1', '1']);
  assert.ok(logged.slice(1).every((a) => a['tensors_sent'] === a['tensors']), 'every tensor changed, so every tensor was sent');

  const c = createClient(GeneratorService, generator.address);
  try {
    const v = await c.getWeightVersion({});
    assert.equal(v.active?.number, pushes.at(-1)!.version, 'the generator serves the last push (two-phase: staged, then activated)');
    assert.equal(v.staged, undefined);
  } finally {
    c.close();
  }
  const plainLogged = plainEvs.flatMap((e) => (e.event.case === 'log' && e.event.value.attributes['delta_replicas'] !== undefined ? [e.event.value.attributes] : []));
  assert.ok(plainLogged.length === 2 && plainLogged.every((a) => a['delta_replicas'] === '0' && a['activate_seconds'] === '0'), 'defaults: full pushes, one-phase (no activation step)');
});
