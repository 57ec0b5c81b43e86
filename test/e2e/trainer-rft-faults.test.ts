// RFT survives a reward-model restart: the reward-model service is SIGKILLed right after it accepted the
// first round's reward weights and comes back ~1.5 s later on the same port with none of them (a fresh
// head on a causal LM, version 0). The trainer retries push + score as one unit with back-off (job log
// lines), the restarted service gets the trainer's reward weights again, and the job succeeds.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSyntheticDatasets } from '@juice/data';
import { createDefaultModel } from '@juice/models';
import { Algorithm, DataSchema, JobState, PolicyGradientMethod, RewardModelService, TrainerService, type WatchJobResponse } from '@juice/proto';
import { createClient } from '@juice/service-kit';
import { startRole, type RunningRole } from '../support/spawn-service.js';
import { freePort } from '../support/training-roles.js';

const work = mkdtempSync(join(tmpdir(), 'juice-rft-faults-'));
const roles: RunningRole[] = [];
after(async () => {
  await Promise.all(roles.map((r) => r.stop('SIGKILL')));
});

test('a reward-model SIGKILLed mid-RFT comes back empty; the trainer pushes its reward weights again and the job succeeds', async (t) => {
  const serveModel = join(work, 'serve-model');
  createDefaultModel(serveModel, { corpus: ['What is 1+1? 2'], seed: 9 });
  const port = await freePort();
  const rmArgs = ['--model', serveModel, '--port', String(port)];
  const [generator, firstRm] = await Promise.all([startRole('generator', ['--model', serveModel]), startRole('reward-model', rmArgs)]);
  roles.push(generator, firstRm);
  const trainer = await startRole('trainer', ['--store', join(work, 'store'), '--generator', generator.address, '--reward-model', firstRm.address]);
  roles.push(trainer);
  const client = createClient(TrainerService, trainer.address);
  const data = await writeSyntheticDatasets(join(work, 'data'), { seed: 6, trainSize: 24, evalSize: 4 });
  const { job } = await client.startJob({
    spec: {
      algorithm: Algorithm.RFT,
      datasets: [{ path: data.files.train, schema: DataSchema.CHAT }],
      hyperparameters: { batchSize: 16, learningRate: 1e-3 },
      algorithmConfig: { case: 'rft', value: { method: PolicyGradientMethod.REINFORCE, rounds: 3, promptsPerRound: 8, samplesPerPrompt: 2, generation: { maxNewTokens: 12 }, rewardUpdate: { learningRate: 3e-3 } } },
    },
  });
  const events: WatchJobResponse[] = [];
  let restarted: Promise<RunningRole> | undefined;
  for await (const e of client.watchJob({ jobId: job!.id, fromBeginning: true })) {
    events.push(e);
    if (!restarted && e.event.case === 'weightsPushed' && e.event.value.target === 'reward_model') {
      firstRm.proc.kill('SIGKILL');
      restarted = (async () => {
        await firstRm.exited;
        await new Promise((r) => setTimeout(r, 1500));
        const r = await startRole('reward-model', rmArgs);
        roles.push(r);
        return r;
      })();
    }
  }
  const secondRm = await restarted!;
  const final = events.filter((e) => e.event.case === 'stateChange').at(-1)!;
  assert.equal(final.event.case === 'stateChange' && final.event.value.to, JobState.SUCCEEDED, events.filter((e) => e.event.case === 'error').map((e) => JSON.stringify(e.event.value)).join('\n'));
  const retries = events.flatMap((e) => (e.event.case === 'log' && /retry \d+ in \d+ ms/.test(e.event.value.message) ? [e.event.value.message] : []));
  t.diagnostic(`retries: ${retries.join(' | ')}`);
  assert.ok(retries.some((m) => m.startsWith('push the reward model and score')), `the push + score unit was retried: ${retries.join(' | ')}`);
  const rounds = events.flatMap((e) => (e.event.case === 'stepMetrics' && e.event.value.metrics['rm/weight_version'] !== undefined ? [e.event.value.metrics] : []));
  assert.equal(rounds.length, 3, 'every round was scored');
  // The restarted service serves the trainer's last reward weights (its own counter started again at 0).
  const rm = createClient(RewardModelService, secondRm.address);
  try {
    const served = (await rm.getWeightVersion({})).active!;
    assert.ok(served.number > 0n && served.number === BigInt(rounds.at(-1)!['rm/weight_version']!), `serving v${served.number} (${served.label})`);
    assert.match(served.label, new RegExp(`^${job!.id}/round2$`));
  } finally {
    rm.close();
    client.close();
  }
});
