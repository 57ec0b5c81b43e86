// The two jobs chained: a REWARD_MODEL job learns a preference; an RFT job then does plain RL against
// that reward model, frozen (reward_update.frozen, rft.reward_model = the first job's checkpoint), with
// PPO-clip (value head, clipped values, per-token KL penalty). The
// trainer pushes the given reward model to the reward-model service once, takes no reward step, and
// every round is scored by exactly that version; a reward model with another tokenizer is refused.
// (No reward rise is asserted: on a from-scratch policy's near-uniform samples this reward model is
// saturated — every sample scores about the same — so there is nothing to climb at this scale.)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSyntheticDatasets } from '@juice/data';
import { Algorithm, DataSchema, JobState, PolicyGradientMethod, TrainerService, type WatchJobResponse } from '@juice/proto';
import { createClient } from '@juice/service-kit';
import { startTrainingRoles, type TrainingRoles } from '../support/training-roles.js';

const work = mkdtempSync(join(tmpdir(), 'juice-rft-rm-'));
let roles: TrainingRoles;
let client: ReturnType<typeof createClient<typeof TrainerService>>;
const store = join(work, 'store');
before(async () => {
  roles = await startTrainingRoles(work, store);
  client = createClient(TrainerService, roles.trainer.address);
});
after(async () => {
  client.close();
  await roles.stop();
});

async function run(spec: Parameters<typeof client.startJob>[0]['spec']): Promise<{ id: string; events: WatchJobResponse[] }> {
  const { job } = await client.startJob({ spec });
  const events: WatchJobResponse[] = [];
  for await (const e of client.watchJob({ jobId: job!.id, fromBeginning: true })) events.push(e);
  const final = events.filter((e) => e.event.case === 'stateChange').at(-1)!;
  assert.equal(final.event.case === 'stateChange' && final.event.value.to, JobState.SUCCEEDED, events.filter((e) => e.event.case === 'error').map((e) => JSON.stringify(e.event.value)).join('\n'));
  return { id: job!.id, events };
}

test('RFT against a frozen reward model from a REWARD_MODEL job: pushed once, no reward step, every round scored by it', async (t) => {
  // Preferred: a short worked sum; dispreferred: the same characters reversed.
  const rows = Array.from({ length: 256 }, (_, i) => {
    const a = 10 + ((i * 7) % 90);
    const b = 10 + ((i * 13) % 90);
    const good = `${a}+${b}=${a + b}`;
    return { prompt: `What is ${a}+${b}?`, chosen: good, rejected: [...good].reverse().join('') };
  });
  const prefs = join(work, 'prefs.jsonl');
  writeFileSync(prefs, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const rm = await run({ algorithm: Algorithm.REWARD_MODEL, datasets: [{ path: prefs, schema: DataSchema.PREFERENCE }], hyperparameters: { maxSteps: 30n, batchSize: 16, learningRate: 1e-3 } });
  const rmDir = (await client.getJob({ jobId: rm.id })).job!.lastCheckpoint!.path;
  // The policy starts from the reward job's base model, so both read token ids alike.
  const base = join(store, 'jobs', rm.id, 'base-model');
  const demos = join(work, 'demos.jsonl');
  writeFileSync(demos, rows.map((r) => JSON.stringify({ prompt: r.prompt, completion: r.chosen })).join('\n') + '\n');
  const rft = await run({
    algorithm: Algorithm.RFT,
    model: { kind: { case: 'hfDir', value: base } },
    datasets: [{ path: demos, schema: DataSchema.PROMPT_COMPLETION }],
    hyperparameters: { batchSize: 16, learningRate: 2e-3 },
    algorithmConfig: { case: 'rft', value: { method: PolicyGradientMethod.PPO_CLIP, valueClip: 0.2, klCoef: 0.05, rounds: 3, promptsPerRound: 8, samplesPerPrompt: 4, policyEpochs: 2, generation: { maxNewTokens: 10 }, rewardModel: { kind: { case: 'hfDir', value: rmDir } }, rewardUpdate: { frozen: true } } },
  });
  const pushes = rft.events.flatMap((e) => (e.event.case === 'weightsPushed' && e.event.value.target === 'reward_model' ? [e.event.value] : []));
  assert.equal(pushes.length, 1, 'the frozen reward model is pushed once');
  const rounds = rft.events.flatMap((e) => (e.event.case === 'stepMetrics' && e.event.value.metrics['reward/mean'] !== undefined ? [e.event.value.metrics] : []));
  assert.equal(rounds.length, 3);
  assert.ok(rounds.every((m) => m['rm/loss'] === undefined), 'no reward step');
  assert.ok(rounds.every((m) => m['rm/weight_version'] === Number(pushes[0]!.version)), 'every round scored by the pushed reward model');
  const mean = rounds.map((m) => m['reward/mean']!);
  t.diagnostic(`reward/mean per round: ${mean.map((x) => x.toFixed(3)).join(' -> ')}; reward/std ${rounds.map((m) => m['reward/std']!.toFixed(3)).join(' -> ')}; kl ${rounds.map((m) => m.kl!.toFixed(3)).join(' -> ')}; len ${rounds.map((m) => m['gen/mean_length']!.toFixed(1)).join(' -> ')}`);
  assert.ok(rounds.every((m) => Number.isFinite(m['reward/mean']) && Number.isFinite(m.policy_loss) && Number.isFinite(m.value_loss) && Math.abs(m.kl_coef! - 0.05) < 1e-6), 'rounds scored and stepped (PPO-clip with its value head, kl_coef 0.05)');
  const clipFractions = rft.events.flatMap((e) => (e.event.case === 'stepMetrics' && e.event.value.metrics['ppo/clip_fraction'] !== undefined ? [e.event.value.metrics['ppo/clip_fraction']] : []));
  assert.ok(clipFractions.length >= 3 && clipFractions.every((x) => x >= 0 && x <= 1), `PPO steps report their clip fraction: ${clipFractions}`);
  assert.ok(rft.events.some((e) => e.event.case === 'log' && e.event.value.attributes['reward_model_path']), 'the (unchanged) reward model is saved with the job');

  // A reward model whose tokenizer reads ids differently is refused before any call: an embedded policy
  // trained on other text (the synthetic skills) gets another tokenizer.
  const synthetic = await writeSyntheticDatasets(join(work, 'synthetic'), { seed: 2, trainSize: 16, evalSize: 2 });
  const other = await client.startJob({ spec: { algorithm: Algorithm.RFT, datasets: [{ path: synthetic.files.train, schema: DataSchema.CHAT }], algorithmConfig: { case: 'rft', value: { rewardModel: { kind: { case: 'hfDir', value: rmDir } }, rewardUpdate: { frozen: true } } } } });
  let error = '';
  for await (const e of client.watchJob({ jobId: other.job!.id, fromBeginning: true })) if (e.event.case === 'error') error = `${e.event.value.code}: ${e.event.value.message}`;
  assert.match(error, /^INVALID_ARGUMENT: spec\.rft\.reward_model: its tokenizer differs/);
});
