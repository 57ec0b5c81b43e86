// A REWARD_MODEL job on the trainer (its own process): Bradley-Terry on a small preference set, held-out
// pairwise accuracy measured before and after; the checkpoint is a *ForSequenceClassification directory
// that `juice-reward-model --model <dir>` serves as it is, agreeing with the trainer's held-out numbers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pairToExamples, tokenizePreferencePair } from '@juice/data';
import { loadModel } from '@juice/models';
import { Algorithm, DataSchema, JobState, PolicyGradientMethod, RewardModelService, TrainerService, type WatchJobResponse } from '@juice/proto';
import { createClient } from '@juice/service-kit';
import { startRole, type RunningRole } from '../support/spawn-service.js';

const work = mkdtempSync(join(tmpdir(), 'juice-rm-'));
let trainer: RunningRole;
let client: ReturnType<typeof createClient<typeof TrainerService>>;
before(async () => {
  trainer = await startRole('trainer', ['--store', join(work, 'store')]);
  client = createClient(TrainerService, trainer.address);
});
after(async () => {
  client.close();
  await trainer.stop();
});

// Preferred: the worked sum; dispreferred: the same characters reversed, or the sum with its operator
// and equals sign swapped (surface properties a small model learns from a few hundred pairs and must
// generalise to unseen numbers). Two kinds, so a random head's sign is not right on all of them at once.
function rows(n: number, offset: number) {
  return Array.from({ length: n }, (_, i) => {
    const a = 10 + ((i * 7 + offset) % 90);
    const b = 10 + ((i * 13 + 3 * offset) % 90);
    const good = `${a}+${b}=${a + b}`;
    return { prompt: `What is ${a}+${b}?`, chosen: good, rejected: i % 2 ? [...good].reverse().join('') : `${a}=${b}+${a + b}` };
  });
}

test('a REWARD_MODEL job raises held-out pairwise accuracy and saves a reward model the reward-model service serves', async (t) => {
  const train = join(work, 'prefs.jsonl');
  const held = rows(32, 5);
  const heldFile = join(work, 'held.jsonl');
  writeFileSync(train, rows(256, 0).map((r) => JSON.stringify(r)).join('\n') + '\n');
  writeFileSync(heldFile, held.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const { job } = await client.startJob({
    spec: {
      algorithm: Algorithm.REWARD_MODEL,
      datasets: [{ path: train, schema: DataSchema.PREFERENCE }],
      evalDatasets: [{ path: heldFile, schema: DataSchema.PREFERENCE }],
      hyperparameters: { maxSteps: 40n, batchSize: 16, learningRate: 1e-3 },
      algorithmConfig: { case: 'rewardModel', value: { frozenLayers: 1, centerRewardsCoefficient: 0.01 } },
    },
  });
  const events: WatchJobResponse[] = [];
  for await (const e of client.watchJob({ jobId: job!.id, fromBeginning: true })) events.push(e);
  const errors = events.filter((e) => e.event.case === 'error').map((e) => JSON.stringify(e.event.value));
  const final = events.filter((e) => e.event.case === 'stateChange').at(-1)!;
  assert.equal(final.event.case === 'stateChange' && final.event.value.to, JobState.SUCCEEDED, errors.join('\n'));
  const steps = events.flatMap((e) => (e.event.case === 'stepMetrics' ? [e.event.value.metrics] : []));
  assert.equal(steps.length, 40);
  for (const k of ['loss', 'reward/chosen', 'reward/rejected', 'reward/margin', 'reward/accuracy']) assert.ok(Number.isFinite(steps[0]![k]), `${k} reported`);
  const evals = events.flatMap((e) => (e.event.case === 'evaluation' ? [e.event.value] : []));
  assert.equal(evals.length, 2, 'held-out pairs scored before and after training');
  const [start, end] = evals.map((e) => e.metrics['eval/reward/accuracy']!);
  t.diagnostic(`held-out accuracy ${start} -> ${end}, margin ${evals[0]!.metrics['eval/reward/margin']!.toFixed(3)} -> ${evals[1]!.metrics['eval/reward/margin']!.toFixed(3)}, eval loss ${evals[0]!.metrics['eval/loss']!.toFixed(3)} -> ${evals[1]!.metrics['eval/loss']!.toFixed(3)}`);
  const [m0, m1] = evals.map((e) => e.metrics['eval/reward/margin']!);
  // A fresh head barely separates anything (|margin| small, loss ≈ ln 2) even where its sign happens to be right.
  assert.ok(Math.abs(m0!) < 0.1 && evals[0]!.metrics['eval/loss']! > 0.6, `fresh head: margin ${m0}, loss ${evals[0]!.metrics['eval/loss']}`);
  assert.ok(end! >= 0.9 && end! > start!, `held-out accuracy ${start} -> ${end}`);
  assert.ok(m1! > 1 && evals[1]!.metrics['eval/loss']! < 0.3, `held-out margin ${m0} -> ${m1}, loss ${evals[1]!.metrics['eval/loss']}`);

  // The checkpoint is a sequence classifier the reward-model service loads as a reward model (no fresh head).
  const dir = (await client.getJob({ jobId: job!.id })).job!.lastCheckpoint!.path;
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  assert.deepEqual(config.architectures, ['LlamaForSequenceClassification']);
  assert.equal(config.num_labels, 1);
  const served = await startRole('reward-model', ['--model', dir]);
  const rm = createClient(RewardModelService, served.address);
  try {
    assert.ok(!served.stderr().includes('freshly initialised score head'), 'served as a trained reward model');
    // Token ids exactly as the job tokenized its pairs (token-in: no re-tokenisation across the prompt/response boundary).
    const tok = loadModel(dir, 'reward').tokenizer;
    const ids = (xs: number[]) => ({ kind: { case: 'tokens' as const, value: { ids: xs } } });
    const cmp = await rm.compare({
      pairs: held.map((r) => {
        const [c, x] = pairToExamples(tokenizePreferencePair(tok, { prompt: { kind: 'text', text: r.prompt }, chosen: r.chosen, rejected: r.rejected }, { maxLength: 128 }));
        return { prompt: ids(c.promptIds), responseA: ids(c.responseIds), responseB: ids(x.responseIds) };
      }),
    });
    const accuracy = cmp.results.filter((r) => r.probAPreferred > 0.5).length / cmp.results.length;
    const margin = cmp.results.reduce((a, r) => a + r.rewardA - r.rewardB, 0) / cmp.results.length;
    t.diagnostic(`reward-model service on the checkpoint: held-out accuracy ${accuracy}, margin ${margin.toFixed(4)} (trainer: ${m1!.toFixed(4)})`);
    assert.ok(Math.abs(margin - m1!) < 1e-3 * Math.max(1, Math.abs(m1!)), `the service computes the trainer's rewards: margin ${margin} vs ${m1}`);
    // Text clients (the evaluator's reward win-rate) send text: encoded together, EOS appended (reward.proto).
    const textCmp = await rm.compare({ pairs: held.map((r) => ({ prompt: { kind: { case: 'text', value: r.prompt } }, responseA: { kind: { case: 'text', value: r.chosen } }, responseB: { kind: { case: 'text', value: r.rejected } } })) });
    const textAccuracy = textCmp.results.filter((r) => r.probAPreferred > 0.5).length / textCmp.results.length;
    t.diagnostic(`text Compare on the checkpoint: held-out accuracy ${textAccuracy}`);
    assert.ok(textAccuracy >= 0.9, `text Compare prefers the chosen response in ${textAccuracy * 100}% of held-out pairs`);
    assert.ok(accuracy >= 0.9, `the served checkpoint prefers the chosen response in ${accuracy * 100}% of held-out pairs`);
  } finally {
    rm.close();
    await served.stop();
  }
});

test('bad RFT and REWARD_MODEL settings fail the job with the field named, before any peer is called', async () => {
  const file = join(work, 'prefs.jsonl');
  const demos = join(work, 'demos.jsonl');
  writeFileSync(demos, rows(8, 1).map((r) => JSON.stringify({ prompt: r.prompt, completion: r.chosen })).join('\n') + '\n');
  const cases = [
    // Nothing listens on port 9: a job that called a peer would fail with UNAVAILABLE instead.
    { algorithm: Algorithm.RFT, datasets: [{ path: demos, schema: DataSchema.PROMPT_COMPLETION }], endpoints: { generator: ['127.0.0.1:9'], rewardModel: ['127.0.0.1:9'] }, algorithmConfig: { case: 'rft' as const, value: { method: PolicyGradientMethod.RLOO, samplesPerPrompt: 1 } }, field: 'spec.rft.samples_per_prompt' },
    { algorithm: Algorithm.RFT, datasets: [{ path: demos, schema: DataSchema.PROMPT_COMPLETION }], endpoints: { generator: ['127.0.0.1:9'], rewardModel: ['127.0.0.1:9'] }, algorithmConfig: { case: 'rft' as const, value: { rewardUpdate: { frozenLayers: 9 } } }, field: 'spec.rft.reward_update.frozen_layers' },
    { algorithm: Algorithm.REWARD_MODEL, datasets: [{ path: file, schema: DataSchema.PREFERENCE }], algorithmConfig: { case: 'rewardModel' as const, value: { frozenLayers: 9 } }, field: 'spec.reward_model.frozen_layers' },
  ];
  for (const { field, ...spec } of cases) {
    const { job } = await client.startJob({ spec });
    let error = '';
    for await (const e of client.watchJob({ jobId: job!.id, fromBeginning: true })) if (e.event.case === 'error') error = `${e.event.value.code}: ${e.event.value.message}`;
    assert.match(error, new RegExp(`^INVALID_ARGUMENT: ${field.replace(/\./g, '\\.')}`), error);
  }
});
