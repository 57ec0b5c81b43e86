// RFT across services: generator, reward-model and trainer each their own process. Per round the trainer
// pushes the policy and samples from exactly that version, trains the reward model on demonstration ≻
// own sample and pushes it, has the reward-model service score fresh samples, and takes an APA policy
// step. Afterwards the reward model (as the service now serves it) ranks held-out demonstrations above
// the policy's own samples (a fresh score head would be at chance, 50%).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDemonstrations, tokenizeDemonstration, writeSyntheticDatasets } from '@juice/data';
import { loadModel } from '@juice/models';
import { Algorithm, DataSchema, GeneratorService, JobState, RewardModelService, TrainerService, type WatchJobResponse } from '@juice/proto';
import { createClient } from '@juice/service-kit';
import type { RunningRole } from '../support/spawn-service.js';
import { startTrainingRoles, type TrainingRoles } from '../support/training-roles.js';

const work = mkdtempSync(join(tmpdir(), 'juice-rft-'));
let roles: TrainingRoles;
let generator: RunningRole;
let rewardModel: RunningRole;
let client: ReturnType<typeof createClient<typeof TrainerService>>;
before(async () => {
  roles = await startTrainingRoles(work);
  ({ generator, rewardModel } = roles);
  client = createClient(TrainerService, roles.trainer.address);
});
after(async () => {
  client.close();
  await roles.stop();
});

const ROUNDS = 3;
const PER_ROUND = 16;
const K = 2;

test('an RFT job alternates reward and APA policy steps across services; the reward model then prefers held-out demonstrations over policy samples', async (t) => {
  const data = await writeSyntheticDatasets(join(work, 'data'), { seed: 4, trainSize: 48, evalSize: 32 });
  const { job } = await client.startJob({
    spec: {
      algorithm: Algorithm.RFT,
      datasets: [{ path: data.files.train, schema: DataSchema.CHAT }],
      evalDatasets: [{ path: data.files.heldout, schema: DataSchema.CHAT }],
      evaluation: { atStart: true },
      hyperparameters: { batchSize: 16, learningRate: 1e-3 },
      algorithmConfig: {
        case: 'rft',
        value: { rounds: ROUNDS, promptsPerRound: PER_ROUND, samplesPerPrompt: K, policyEpochs: 2, generation: { maxNewTokens: 16 }, rewardUpdate: { learningRate: 3e-3, epochs: 3 } },
      },
    },
  });
  const events: WatchJobResponse[] = [];
  for await (const e of client.watchJob({ jobId: job!.id, fromBeginning: true })) events.push(e);
  const errors = events.filter((e) => e.event.case === 'error').map((e) => JSON.stringify(e.event.value));
  const final = events.filter((e) => e.event.case === 'stateChange').at(-1)!;
  assert.equal(final.event.case === 'stateChange' && final.event.value.to, JobState.SUCCEEDED, errors.join('\n'));

  const pushes = (target: string) => events.flatMap((e) => (e.event.case === 'weightsPushed' && e.event.value.target === target ? [e.event.value] : []));
  assert.equal(pushes('generator').length, ROUNDS + 1, 'the policy is pushed before each round and once at the end');
  assert.equal(pushes('reward_model').length, ROUNDS, 'the reward model is pushed after each reward step');
  const rounds = events.flatMap((e) => (e.event.case === 'stepMetrics' && e.event.value.metrics['gen/weight_version'] !== undefined ? [e.event.value] : []));
  assert.equal(rounds.length, ROUNDS);
  assert.deepEqual(rounds.map((r) => r.metrics['gen/weight_version']), pushes('generator').slice(0, ROUNDS).map((p) => Number(p.version)), 'each round sampled from the version it pushed');
  assert.deepEqual(rounds.map((r) => r.metrics['rm/weight_version']), pushes('reward_model').map((p) => Number(p.version)), 'each round was scored by the reward weights it pushed');
  for (const r of rounds) {
    for (const k of ['reward/mean', 'reward/std', 'kl', 'kl_coef', 'policy_loss', 'value_loss', 'advantage/mean', 'rm/loss', 'rm/accuracy', 'gen/seconds', 'sync/seconds']) assert.ok(Number.isFinite(r.metrics[k]), `round ${r.stage}: ${k} = ${r.metrics[k]}`);
  }
  const evals = events.flatMap((e) => (e.event.case === 'evaluation' ? [e.event.value.metrics['eval/loss']!] : []));
  t.diagnostic(`held-out demonstration NLL (eval/loss) at start and after each round: ${evals.map((x) => x.toFixed(3)).join(' -> ')}`);
  t.diagnostic(`rounds: ${rounds.map((r) => `rm/accuracy ${r.metrics['rm/accuracy']!.toFixed(2)} rm/loss ${r.metrics['rm/loss']!.toFixed(3)} reward/mean ${r.metrics['reward/mean']!.toFixed(3)} kl ${r.metrics['kl']!.toFixed(4)}`).join(' | ')}`);
  assert.ok(Math.abs(rounds[0]!.metrics.kl!) < 1e-3, `round 0 samples from π = π_ref (kl ${rounds[0]!.metrics.kl})`);
  // (The reward loss need not fall across rounds: as the policy improves, its samples get harder to tell apart.)
  assert.ok(rounds.slice(1).every((r) => r.metrics.kl! > 0.01), 'later rounds sample from a policy that moved away from π_ref');

  // The saved outputs: the policy checkpoint, and the reward model as a sequence classifier.
  const done = (await client.getJob({ jobId: job!.id })).job!;
  const policy = loadModel(done.lastCheckpoint!.path);
  const logged = events.flatMap((e) => (e.event.case === 'log' && e.event.value.attributes['reward_model_path'] ? [e.event.value.attributes['reward_model_path']] : []));
  assert.equal(logged.length, 1, 'the reward model path is logged');
  const rmConfig = JSON.parse(readFileSync(join(logged[0]!, 'config.json'), 'utf8'));
  assert.deepEqual(rmConfig.architectures, ['LlamaForSequenceClassification']);
  assert.equal(rmConfig.num_labels, 1);
  assert.ok(loadModel(logged[0]!, 'reward').params.has('score.weight'));

  // Held-out prompts: the demonstration vs a fresh sample of the final policy (served by the generator).
  const held = (await loadDemonstrations({ path: data.files.heldout, schema: 'chat' })).map((d) => tokenizeDemonstration(policy.tokenizer, d, { maxLength: 128 }));
  const gen = createClient(GeneratorService, generator.address);
  const rm = createClient(RewardModelService, rewardModel.address);
  try {
    const res = await gen.generate({ prompts: held.map((e) => ({ kind: { case: 'tokens', value: { ids: e.promptIds } } })), sampling: { temperature: 1, maxNewTokens: 16, seed: 7n } });
    assert.equal(res.weightVersion?.number, pushes('generator').at(-1)!.version, 'the generator serves the final policy');
    const cmp = await rm.compare({
      pairs: held.map((e, i) => ({ prompt: { kind: { case: 'tokens', value: { ids: e.promptIds } } }, responseA: { kind: { case: 'tokens', value: { ids: e.responseIds } } }, responseB: { kind: { case: 'tokens', value: { ids: res.results[i]!.samples[0]!.tokenIds } } } })),
    });
    assert.equal(cmp.weightVersion?.number, pushes('reward_model').at(-1)!.version, 'the reward-model serves the final reward weights');
    const accuracy = cmp.results.filter((r) => r.probAPreferred > 0.5).length / cmp.results.length;
    t.diagnostic(`held-out demonstration ≻ policy sample: ${(accuracy * 100).toFixed(1)}% of ${cmp.results.length}`);
    // Chance is 50%; 24 of 32 or more has probability 0.35% under a coin toss.
    assert.ok(accuracy >= 0.75, `the reward model ranks held-out demonstrations above policy samples in ${(accuracy * 100).toFixed(1)}% of ${cmp.results.length}`);
  } finally {
    gen.close();
    rm.close();
  }
});
