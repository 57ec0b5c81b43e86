// IRFT's generation and objective options across services (generator and trainer each their own
// process): samples_per_prompt k = 2 pairs every demonstration with both of its samples, a stage's 32
// prompts go out in generation_batch_size = 8 prompts per Generate call (all from the version just
// pushed), sft_loss_coefficient adds the demonstrations' NLL (reported as sft/loss), and max_steps cuts
// the second stage short.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSyntheticDatasets } from '@juice/data';
import { Algorithm, DataSchema, JobState, TrainerService, type WatchJobResponse } from '@juice/proto';
import { createClient } from '@juice/service-kit';
import { startIrftRoles } from '../support/training-roles.js';

const work = mkdtempSync(join(tmpdir(), 'juice-irft-options-'));
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

test('IRFT with k = 2 samples per prompt, chunked generation, an SFT term and max_steps', async () => {
  const data = await writeSyntheticDatasets(join(work, 'data'), { seed: 4, trainSize: 64, evalSize: 8 });
  // 2 stages × 32 demonstrations × k = 2 → 64 pairs per stage, 4 steps of 16 pairs (the epoch default);
  // 8 planned steps, max_steps 6 stops the second stage after 2.
  const { job } = await client.startJob({
    spec: {
      algorithm: Algorithm.IRFT,
      datasets: [{ path: data.files.train, schema: DataSchema.CHAT }],
      hyperparameters: { batchSize: 16, learningRate: 3e-3, maxSteps: 6n },
      algorithmConfig: {
        case: 'irft',
        value: { stages: 2, beta: 0.5, samplesPerPrompt: 2, generationBatchSize: 8, sftLossCoefficient: 0.5, generation: { temperature: 1, seed: 11n, maxNewTokens: 12 } },
      },
    },
  });
  const events: WatchJobResponse[] = [];
  for await (const e of client.watchJob({ jobId: job!.id, fromBeginning: true })) events.push(e);
  const errors = events.filter((e) => e.event.case === 'error').map((e) => JSON.stringify(e.event.value));
  const final = events.filter((e) => e.event.case === 'stateChange').at(-1)!;
  assert.equal(final.event.case === 'stateChange' && final.event.value.to, JobState.SUCCEEDED, errors.join('\n'));

  const metrics = events.flatMap((e) => (e.event.case === 'stepMetrics' ? [e.event.value] : []));
  const gen = metrics.filter((m) => m.metrics['gen/calls'] !== undefined);
  const pushes = events.flatMap((e) => (e.event.case === 'weightsPushed' ? [e.event.value] : []));
  assert.equal(pushes.length, 2, 'one push per stage');
  assert.deepEqual(gen.map((m) => m.metrics['gen/calls']), [4, 4], '32 prompts in Generate calls of 8');
  assert.deepEqual(gen.map((m) => m.metrics['gen/samples']), [64, 64], 'k = 2 samples for each of the 32 prompts');
  assert.deepEqual(gen.map((m) => m.metrics['gen/weight_version']), pushes.map((p) => Number(p.version)), 'all chunks came from the version just pushed');

  const train = metrics.filter((m) => m.metrics.loss !== undefined);
  assert.deepEqual(train.map((m) => Number(m.step)), [1, 2, 3, 4, 5, 6], 'the job stops at max_steps');
  assert.deepEqual(train.map((m) => m.stage), [0, 0, 0, 0, 1, 1], 'stage 2 is cut short after 2 of its 4 steps');
  for (const m of train) {
    const sft = m.metrics['sft/loss'];
    assert.ok(sft !== undefined && Number.isFinite(sft) && sft > 0, `step ${m.step}: sft/loss ${sft}`);
  }
  // π = π_ref at a stage's first step, so the pairwise term is log 2 and the rest is α·NLL.
  for (const m of [train[0]!, train[4]!]) assert.ok(Math.abs(m.metrics.loss! - (Math.LN2 + 0.5 * m.metrics['sft/loss']!)) < 1e-4, `step ${m.step}: loss ${m.metrics.loss} = log 2 + 0.5·${m.metrics['sft/loss']}`);

  const done = (await client.getJob({ jobId: job!.id })).job!;
  assert.equal(done.progress?.totalSteps, 6n, 'progress counts the capped steps');
  assert.equal(done.progress?.step, 6n);
  assert.equal(done.lastCheckpoint?.step, 6n, 'the capped last step is checkpointed');
});
