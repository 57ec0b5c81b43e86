// RFT resume across services: an RLOO job cancelled after its first round's checkpoint is resumed with
// ResumeJob; it continues where the cancel checkpointed it (policy + value/reward weights, optimizers and
// reward statistics from the trainer state): at the next round boundary, or inside the round the cancel
// interrupted (its samples kept), and runs only the remaining rounds.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSyntheticDatasets } from '@juice/data';
import { Algorithm, DataSchema, JobState, PolicyGradientMethod, TrainerService, type WatchJobResponse } from '@juice/proto';
import { createClient } from '@juice/service-kit';
import { startTrainingRoles, type TrainingRoles } from '../support/training-roles.js';

const work = mkdtempSync(join(tmpdir(), 'juice-rft-resume-'));
let roles: TrainingRoles;
let client: ReturnType<typeof createClient<typeof TrainerService>>;
before(async () => {
  roles = await startTrainingRoles(work);
  client = createClient(TrainerService, roles.trainer.address);
});
after(async () => {
  client.close();
  await roles.stop();
});

test('an RLOO RFT job cancelled after a round resumes where it stopped and finishes', async () => {
  const data = await writeSyntheticDatasets(join(work, 'data-rloo'), { seed: 5, trainSize: 24, evalSize: 4 });
  const spec = {
    algorithm: Algorithm.RFT,
    datasets: [{ path: data.files.train, schema: DataSchema.CHAT }],
    hyperparameters: { batchSize: 16, learningRate: 1e-3 },
    algorithmConfig: { case: 'rft' as const, value: { method: PolicyGradientMethod.RLOO, rounds: 3, promptsPerRound: 8, samplesPerPrompt: 2, generation: { maxNewTokens: 12 }, rewardUpdate: { learningRate: 3e-3 } } },
  };
  const { job } = await client.startJob({ spec });
  const id = job!.id;
  // Cancel as soon as the first round's checkpoint is out.
  for await (const e of client.watchJob({ jobId: id, fromBeginning: true })) {
    if (e.event.case === 'checkpointSaved') {
      await client.cancelJob({ jobId: id, reason: 'test: stop after a round' });
      break;
    }
  }
  for await (const e of client.watchJob({ jobId: id })) if (e.event.case === 'stateChange' && e.event.value.to === JobState.CANCELLED) break;
  const cancelled = (await client.getJob({ jobId: id })).job!;
  const atCancel = cancelled.lastCheckpoint!;
  assert.ok(atCancel.stage <= 1, `cancelled after round ${atCancel.stage}`);
  // A cancel that lands while round 1 samples checkpoints inside that round (its samples are kept).
  const nextRound = cancelled.dataPosition?.stageSamplesReady ? atCancel.stage : atCancel.stage + 1;
  await client.resumeJob({ jobId: id });
  const events: WatchJobResponse[] = [];
  for await (const e of client.watchJob({ jobId: id, fromBeginning: true })) events.push(e);
  const finalState = events.filter((e) => e.event.case === 'stateChange').at(-1)!;
  assert.equal(finalState.event.case === 'stateChange' && finalState.event.value.to, JobState.SUCCEEDED, events.filter((e) => e.event.case === 'error').map((e) => JSON.stringify(e.event.value)).join('\n'));
  const resumedAt = events.findIndex((e) => e.event.case === 'log' && e.event.value.message.startsWith('resuming from checkpoint'));
  assert.ok(resumedAt > 0, 'the job says where it resumed');
  const roundsAfter = events.slice(resumedAt).flatMap((e) => (e.event.case === 'stepMetrics' && e.event.value.metrics['gen/weight_version'] !== undefined ? [e.event.value.stage] : []));
  assert.deepEqual(roundsAfter, Array.from({ length: 3 - nextRound }, (_, i) => nextRound + i), `after resuming at round ${nextRound} the job ran the remaining rounds only`);
  const done = (await client.getJob({ jobId: id })).job!;
  assert.equal(done.lastCheckpoint!.stage, 2, 'the last checkpoint is the last round');
  // 8 prompts × 2 samples = 16 rollouts = one batch of 16, one epoch: one policy step per round.
  assert.equal(done.progress!.step, 3n);
});
