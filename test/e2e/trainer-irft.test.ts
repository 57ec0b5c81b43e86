// IRFT across services: the trainer pushes the policy to the generator (its own process) at every stage,
// takes the generator's samples of exactly that version as negatives, and trains demonstration ≻ sample;
// the implicit-reward margin grows within each stage.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSyntheticDatasets } from '@juice/data';
import { Algorithm, DataSchema, JobState, TrainerService, type WatchJobResponse } from '@juice/proto';
import { createClient } from '@juice/service-kit';
import { startIrftRoles } from '../support/training-roles.js';

const work = mkdtempSync(join(tmpdir(), 'juice-irft-'));
let roles: Awaited<ReturnType<typeof startIrftRoles>>;
let client: ReturnType<typeof createClient<typeof TrainerService>>;
before(async () => {
  // The generator starts on any model of the default shape; the job pushes its own weights before sampling.
  roles = await startIrftRoles(work);
  client = createClient(TrainerService, roles.trainer.address);
});
after(async () => {
  client.close();
  await roles.stop();
});

test('an IRFT job regenerates negatives from the pushed policy each stage and widens the implicit-reward margin', async () => {
  const data = await writeSyntheticDatasets(join(work, 'data'), { seed: 3, trainSize: 64, evalSize: 8 });
  const { job } = await client.startJob({
    spec: {
      algorithm: Algorithm.IRFT,
      datasets: [{ path: data.files.train, schema: DataSchema.CHAT }],
      hyperparameters: { batchSize: 16, learningRate: 3e-3 },
      algorithmConfig: { case: 'irft', value: { stages: 2, stepsPerStage: 12n, beta: 0.5, generation: { temperature: 0, maxNewTokens: 16 } } },
    },
  });
  const events: WatchJobResponse[] = [];
  for await (const e of client.watchJob({ jobId: job!.id, fromBeginning: true })) events.push(e);
  const errors = events.filter((e) => e.event.case === 'error').map((e) => JSON.stringify(e.event.value));
  const final = events.filter((e) => e.event.case === 'stateChange').at(-1)!;
  assert.equal(final.event.case === 'stateChange' && final.event.value.to, JobState.SUCCEEDED, errors.join('\n'));
  const pushes = events.flatMap((e) => (e.event.case === 'weightsPushed' ? [e.event.value] : []));
  assert.equal(pushes.length, 2, 'one push per stage');
  assert.ok(pushes[1]!.version > pushes[0]!.version);
  const genVersions = events.flatMap((e) => (e.event.case === 'stepMetrics' && e.event.value.metrics['gen/weight_version'] !== undefined ? [e.event.value.metrics['gen/weight_version']] : []));
  assert.deepEqual(genVersions, pushes.map((p) => Number(p.version)), 'negatives came from the version just pushed');
  for (const stage of [0, 1]) {
    const margins = events.flatMap((e) => (e.event.case === 'stepMetrics' && e.event.value.stage === stage && e.event.value.metrics['reward/margin'] !== undefined ? [e.event.value.metrics['reward/margin']] : []));
    assert.equal(margins.length, 12);
    assert.ok(Math.abs(margins[0]!) < 1e-3, `stage ${stage} starts with π = π_ref (margin ${margins[0]})`);
    assert.ok(margins.at(-1)! > 0.5, `stage ${stage} ends with margin ${margins.at(-1)}`);
  }
  assert.ok((await client.getJob({ jobId: job!.id })).job?.lastCheckpoint?.path);
});
