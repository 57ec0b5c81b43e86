// RFT resumes inside a round, through the real job manager and runner in process (generator and reward
// model are their own processes): a job stopped by a trainer shutdown mid-round keeps what the round
// already has (its samples, the reward step's progress or result, the scored rewards, the prepared
// advantages, the position within policy_epochs) and a new JobManager on the same store continues the
// round without sampling it again, ending with the weights of an uninterrupted run. The generator samples
// with a per-sample seed ("re-sending the prompt with this seed under the same weight version reproduces
// it", generator.proto), so the rounds after the resume sample what the uninterrupted run sampled.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { startRoleProcess, type RoleProcess } from '@juice/cli';
import { writeSyntheticDatasets } from '@juice/data';
import { createDefaultModel } from '@juice/models';
import { RewardModelTrainer } from '@juice/algorithms';
import { Algorithm, DataSchema, JobSpecSchema, JobState, PolicyGradientMethod, type Job, type WatchJobResponse } from '@juice/proto';
import { JobManager } from '../src/job-manager.js';
import { JobStore } from '../src/job-store.js';
import { rftRunner } from '../src/runners/rft-runner.js';

const work = mkdtempSync(join(tmpdir(), 'juice-rft-resume-'));
const quiet = { info() {}, warn() {}, error() {} };
const meta = { configSha256: 'x', dataFiles: [], trainerVersion: 'test' };
let generator: RoleProcess;
let rewardModel: RoleProcess;
let train: string;
before(async () => {
  const serve = join(work, 'serve-model');
  createDefaultModel(serve, { corpus: ['What is 1+1? 2'], seed: 9 });
  [generator, rewardModel] = await Promise.all([startRoleProcess('generator', ['--model', serve]), startRoleProcess('reward-model', ['--model', serve])]);
  train = (await writeSyntheticDatasets(join(work, 'data'), { seed: 5, trainSize: 24, evalSize: 4 })).files.train;
});
after(async () => {
  await Promise.all([generator?.stop(), rewardModel?.stop()]);
});

const manager = (root: string) => new JobManager(new JobStore(root), { [Algorithm.RFT]: rftRunner({ generator: generator.address, rewardModel: rewardModel.address }) }, quiet);

async function untilDone(m: JobManager, job: Job): Promise<WatchJobResponse[]> {
  const out: WatchJobResponse[] = [];
  for await (const e of m.watch(job, { fromBeginning: true, afterSequence: 0n, omitLogs: false, signal: new AbortController().signal })) out.push(e);
  return out;
}
const errors = (evs: WatchJobResponse[]) => evs.flatMap((e) => (e.event.case === 'error' ? [e.event.value.message] : [])).join('\n');
const logs = (evs: WatchJobResponse[]) => evs.flatMap((e) => (e.event.case === 'log' ? [e.event.value.message] : []));
const pushes = (evs: WatchJobResponse[], target: string) => evs.filter((e) => e.event.case === 'weightsPushed' && e.event.value.target === target).length;
/** The round-end metrics (one stepMetrics per round carries gen/weight_version), by round. */
const roundMetrics = (evs: WatchJobResponse[]) => evs.flatMap((e) => (e.event.case === 'stepMetrics' && e.event.value.metrics['gen/weight_version'] !== undefined ? [e.event.value.metrics] : []));

// 8 prompts × 2 samples = 16 rollouts a round; 4 a minibatch, 2 policy epochs: 8 policy updates a round
// (24 in the job), checkpoints every 3 updates (inside rounds) and at each round's end; 4 reward updates a round.
function spec(method: PolicyGradientMethod): MessageInitShape<typeof JobSpecSchema> {
  return {
    algorithm: Algorithm.RFT,
    datasets: [{ path: train, schema: DataSchema.CHAT }],
    hyperparameters: { batchSize: 4, learningRate: 1e-3, lrSchedule: 2, warmupSteps: 2 },
    algorithmConfig: { case: 'rft', value: { method, rounds: 3, promptsPerRound: 8, samplesPerPrompt: 2, policyEpochs: 2, generation: { maxNewTokens: 10 }, rewardUpdate: { learningRate: 3e-3, batchSize: 4 }, klControl: 2 } },
    checkpoints: { everyNSteps: 3n },
  };
}

async function uninterrupted(name: string, s: MessageInitShape<typeof JobSpecSchema>): Promise<{ job: Job; events: WatchJobResponse[] }> {
  const m = manager(join(work, name));
  const job = m.start(create(JobSpecSchema, s), meta);
  const events = await untilDone(m, job);
  assert.equal(job.state, JobState.SUCCEEDED, errors(events));
  return { job, events };
}

/** Runs the job until `stopWhen` says so, shuts the trainer down, and resumes the job in a new manager. */
async function stopAndResume(name: string, s: MessageInitShape<typeof JobSpecSchema>, stopWhen: (e: WatchJobResponse) => boolean, onFirst?: (m: JobManager) => void) {
  const root = join(work, name);
  const first = manager(root);
  onFirst?.(first);
  const job = first.start(create(JobSpecSchema, s), meta);
  for await (const e of first.watch(job, { fromBeginning: true, afterSequence: 0n, omitLogs: true, signal: new AbortController().signal })) {
    if (e.event.case === 'error') assert.fail(e.event.value.message);
    if (stopWhen(e)) break;
  }
  await first.stopAll();
  const stoppedAt = new JobStore(root).loadAll(() => {}).find((j) => j.id === job.id)!;
  assert.equal(stoppedAt.state, JobState.RUNNING, 'a shutdown leaves the job RUNNING for the next trainer');
  const second = manager(root);
  second.resumeInterrupted();
  const resumed = second.get(job.id)!;
  const events = await untilDone(second, resumed);
  assert.equal(resumed.state, JobState.SUCCEEDED, errors(events));
  const at = events.findIndex((e) => e.event.case === 'log' && e.event.value.message.startsWith('resuming from checkpoint'));
  assert.ok(at > 0, logs(events).join(' | '));
  return { job: resumed, stoppedAt, events, attempt2: events.slice(at) };
}

test('APA stopped mid-way through round 2\'s policy epochs continues the round (no resampling) to the uninterrupted weights', async () => {
  const control = await uninterrupted('apa-control', spec(PolicyGradientMethod.APA));
  // Stopped after policy update 11 (round 1, update 3 of 8): the shutdown checkpoints the update in flight.
  const { job, stoppedAt, events, attempt2 } = await stopAndResume('apa', spec(PolicyGradientMethod.APA), (e) => e.event.case === 'stepMetrics' && Number(e.event.value.step) === 11 && e.event.value.metrics.policy_loss !== undefined);
  const stopStep = Number(stoppedAt.lastCheckpoint!.step);
  assert.ok(stopStep >= 11 && stopStep < 16, `stopped inside round 1's updates (step ${stopStep})`);
  assert.equal(stoppedAt.dataPosition?.stage, 1);
  assert.equal(stoppedAt.dataPosition?.stageSamplesReady, true, 'the mid-round checkpoint holds the round\'s samples');
  assert.ok(logs(attempt2).some((l) => l.includes('continuing inside round 1 (policy update')), logs(attempt2).join(' | '));
  // The resumed attempt's first push is round 2's policy push: round 1 was not sampled or scored again.
  const firstPush = attempt2.find((e) => e.event.case === 'weightsPushed' || (e.event.case === 'stepMetrics' && e.event.value.metrics['gen/weight_version'] !== undefined))!;
  assert.equal(firstPush.event.case, 'stepMetrics', 'round 1 ends before anything is pushed');
  assert.equal(pushes(events, 'generator'), pushes(control.events, 'generator'), 'as many generator pushes as the uninterrupted run (3 rounds + the final one)');
  assert.equal(pushes(events, 'reward_model'), pushes(control.events, 'reward_model'));
  assert.equal(job.progress!.step, 24n);
  assert.equal(job.lastCheckpoint!.sha256, control.job.lastCheckpoint!.sha256, 'final policy weights bit-identical to the uninterrupted run');
  // The interrupted round reports what the uninterrupted one did (its reward step and scores were kept).
  const [c1, r1] = [roundMetrics(control.events)[1]!, roundMetrics(events)[1]!];
  for (const k of ['rm/loss', 'rm/accuracy_before', 'reward/mean', 'kl', 'advantage/mean', 'policy_loss', 'value_loss', 'kl_coef']) assert.equal(r1[k], c1[k], k);
});

test('REINFORCE stopped while round 2 samples continues from the stored samples (reward step, scores, baseline) to the uninterrupted weights', async () => {
  const control = await uninterrupted('reinforce-control', spec(PolicyGradientMethod.REINFORCE));
  let generatorPushes = 0;
  const { job, stoppedAt, events, attempt2 } = await stopAndResume('reinforce', spec(PolicyGradientMethod.REINFORCE), (e) => e.event.case === 'weightsPushed' && e.event.value.target === 'generator' && ++generatorPushes === 2);
  assert.equal(Number(stoppedAt.lastCheckpoint!.step), 8, 'checkpointed after round 1 sampled, before any of its updates');
  assert.equal(stoppedAt.dataPosition?.stage, 1);
  assert.equal(stoppedAt.dataPosition?.stageSamplesReady, true);
  assert.ok(logs(attempt2).some((l) => l.includes('continuing inside round 1 (reward update 0')), logs(attempt2).join(' | '));
  const firstPush = attempt2.find((e) => e.event.case === 'weightsPushed')!;
  assert.equal(firstPush.event.case === 'weightsPushed' && firstPush.event.value.target, 'reward_model', 'the resumed round scores its stored samples; it does not sample again');
  assert.equal(pushes(events, 'generator'), pushes(control.events, 'generator'));
  assert.equal(job.lastCheckpoint!.sha256, control.job.lastCheckpoint!.sha256, 'final policy weights bit-identical to the uninterrupted run');
  const [c1, r1] = [roundMetrics(control.events)[1]!, roundMetrics(events)[1]!];
  for (const k of ['gen/mean_length', 'rm/loss', 'reward/mean', 'kl', 'policy_loss']) assert.equal(r1[k], c1[k], k);
});

test('PPO stopped inside round 2\'s reward step continues its reward updates (cursor, moments, metric sums) to the uninterrupted weights', async () => {
  const control = await uninterrupted('ppo-control', spec(PolicyGradientMethod.PPO_CLIP));
  // No event marks a reward update, so the test stops the trainer from inside the second round's reward
  // step, after its update 2 of 4 (as a shutdown arriving then would).
  const fit = RewardModelTrainer.prototype.fit;
  let calls = 0;
  let stopped = false;
  let first: JobManager | undefined;
  RewardModelTrainer.prototype.fit = function (t) {
    if (++calls !== 2) return fit.call(this, t);
    return fit.call(this, { ...t, onStep: (k, m, at) => (t.onStep?.(k, m, at), k === 2 && ((stopped = true), void first!.stopAll())) });
  };
  let run: Awaited<ReturnType<typeof stopAndResume>>;
  try {
    run = await stopAndResume('ppo', spec(PolicyGradientMethod.PPO_CLIP), () => stopped, (m) => (first = m));
  } finally {
    RewardModelTrainer.prototype.fit = fit;
  }
  const { job, stoppedAt, events, attempt2 } = run;
  assert.equal(Number(stoppedAt.lastCheckpoint!.step), 8, 'checkpointed inside round 1, before its policy updates');
  assert.equal(stoppedAt.dataPosition?.stage, 1);
  assert.ok(logs(attempt2).some((l) => l.includes('continuing inside round 1 (reward update 2')), logs(attempt2).join(' | '));
  const firstPush = attempt2.find((e) => e.event.case === 'weightsPushed')!;
  assert.equal(firstPush.event.case === 'weightsPushed' && firstPush.event.value.target, 'reward_model', 'no second sampling of round 1');
  assert.equal(pushes(events, 'generator'), pushes(control.events, 'generator'));
  assert.equal(job.lastCheckpoint!.sha256, control.job.lastCheckpoint!.sha256, 'final policy weights bit-identical to the uninterrupted run');
  const [c1, r1] = [roundMetrics(control.events)[1]!, roundMetrics(events)[1]!];
  for (const k of ['rm/loss', 'rm/accuracy', 'rm/accuracy_before', 'reward/mean', 'policy_loss', 'value_loss']) assert.equal(r1[k], c1[k], k);
});
