// Durable jobs across real process failures, every service its own process:
//  (a) the trainer is SIGKILLed mid-job; a new trainer on the same --store resumes the job from its last
//      checkpoint and finishes with exactly the weights of an uninterrupted run of the same spec;
//  (b) the generator is SIGKILLed while an IRFT job is in a stage and comes back ~2 s later on the same
//      port; the trainer retries push + generate with back-off (job log lines) and the job succeeds;
//  (c) in-loop evaluation reports eval/loss and keeps the best checkpoint through keep_last pruning.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSyntheticDatasets, type SyntheticDatasetFiles } from '@juice/data';
import { createDefaultModel } from '@juice/models';
import { Algorithm, DataSchema, JobState, LrSchedule, TrainerService, type JobSpecSchema, type WatchJobResponse } from '@juice/proto';
import { createClient } from '@juice/service-kit';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { startRole, type RunningRole } from '../support/spawn-service.js';
import { freePort } from '../support/training-roles.js';

const work = mkdtempSync(join(tmpdir(), 'juice-faults-'));
const roles: RunningRole[] = [];
let data: SyntheticDatasetFiles;
/** The first test's restarted trainer, reused by the evaluation test (one process start less). */
let spareTrainer: RunningRole | undefined;

async function start(role: Parameters<typeof startRole>[0], args: string[]): Promise<RunningRole> {
  const r = await startRole(role, args);
  roles.push(r);
  return r;
}

type Client = ReturnType<typeof createClient<typeof TrainerService>>;

/** All events of a job from its start until it reaches a terminal state. */
async function events(client: Client, jobId: string): Promise<WatchJobResponse[]> {
  const out: WatchJobResponse[] = [];
  for await (const e of client.watchJob({ jobId, fromBeginning: true })) out.push(e);
  return out;
}

const finalState = (evs: WatchJobResponse[]) => {
  const last = evs.filter((e) => e.event.case === 'stateChange').at(-1);
  return last?.event.case === 'stateChange' ? last.event.value.to : JobState.UNSPECIFIED;
};
const errorsOf = (evs: WatchJobResponse[]) => evs.flatMap((e) => (e.event.case === 'error' ? [e.event.value.message] : [])).join('\n');
const logsOf = (evs: WatchJobResponse[]) => evs.flatMap((e) => (e.event.case === 'log' ? [e.event.value.message] : []));

before(async () => {
  data = (await writeSyntheticDatasets(join(work, 'data'), { seed: 1, trainSize: 160, evalSize: 24 })).files;
});
after(async () => {
  await Promise.all(roles.map((r) => r.stop('SIGKILL')));
});

test('a trainer SIGKILLed mid-job: the restarted trainer resumes from the last checkpoint and ends with the uninterrupted weights', async () => {
  const store = join(work, 'store-a');
  const spec: MessageInitShape<typeof JobSpecSchema> = {
    algorithm: Algorithm.SFT,
    datasets: [{ path: data.train, schema: DataSchema.CHAT }],
    // Warm-up and linear decay: a resume that lost the step or the optimizer state would show.
    hyperparameters: { maxSteps: 28n, batchSize: 16, learningRate: 3e-3, lrSchedule: LrSchedule.LINEAR, warmupSteps: 4 },
    checkpoints: { everyNSteps: 4n, keepLast: 2 },
  };
  const first = await start('trainer', ['--store', store]);
  let client = createClient(TrainerService, first.address);
  const { job } = await client.startJob({ spec });
  const id = job!.id;
  let killedAfter = 0n;
  for await (const e of client.watchJob({ jobId: id, fromBeginning: true })) {
    if (e.event.case === 'checkpointSaved' && e.event.value.checkpoint!.step >= 12n) {
      killedAfter = e.event.value.checkpoint!.step;
      first.proc.kill('SIGKILL');
      break;
    }
    if (e.event.case === 'error') assert.fail(e.event.value.message);
  }
  client.close();
  assert.equal(await first.exited, null, 'killed by the signal');

  const second = await start('trainer', ['--store', store]);
  client = createClient(TrainerService, second.address);
  const evs = await events(client, id);
  assert.equal(finalState(evs), JobState.SUCCEEDED, errorsOf(evs));
  const done = (await client.getJob({ jobId: id })).job!;
  assert.equal(done.attempts, 2);
  assert.equal(done.progress?.step, 28n);
  assert.ok(evs.some((e) => e.event.case === 'stateChange' && /trainer restarted/.test(e.event.value.reason)), 'the restart is in the events');
  const resumed = logsOf(evs).find((m) => m.startsWith('resuming from checkpoint'));
  assert.ok(resumed, `a resume log line: ${logsOf(evs).join(' | ')}`);
  const at = BigInt(/at step (\d+)/.exec(resumed)![1]!);
  assert.ok(at >= killedAfter && at < 28n, `resumed at step ${at} (killed after the checkpoint of step ${killedAfter})`);
  // The second attempt's first step is the one after the checkpoint, not step 1.
  const afterResume = evs.slice(evs.findIndex((e) => e.event.case === 'log' && e.event.value.message === resumed));
  const firstStep = afterResume.find((e) => e.event.case === 'stepMetrics');
  assert.equal(firstStep?.event.case === 'stepMetrics' && firstStep.event.value.step, at + 1n);
  // keep_last = 2 pruned the older versions.
  const kept = (await client.listCheckpoints({ jobId: id })).checkpoints;
  assert.equal(kept.length, 2, kept.map((c) => `v${c.version}@${c.step}`).join(', '));
  assert.equal(kept.at(-1)!.step, 28n);

  const control = (await client.startJob({ spec })).job!;
  const controlEvents = await events(client, control.id);
  assert.equal(finalState(controlEvents), JobState.SUCCEEDED, errorsOf(controlEvents));
  const uninterrupted = (await client.getJob({ jobId: control.id })).job!;
  assert.equal(uninterrupted.attempts, 1);
  assert.ok(done.lastCheckpoint!.sha256.length === 64);
  assert.equal(done.lastCheckpoint!.sha256, uninterrupted.lastCheckpoint!.sha256, 'same final weights (sha256 of model.safetensors)');
  client.close();
  spareTrainer = second;
});

test('a generator SIGKILLed mid-round and restarted on its port: the IRFT job retries push + generate and succeeds', async () => {
  const port = await freePort();
  const genModel = join(work, 'gen-model');
  createDefaultModel(genModel, { corpus: ['What is 1+1? 2'], seed: 9 });
  const genArgs = ['--model', genModel, '--port', String(port)];
  let generator = await start('generator', genArgs);
  const trainer = await start('trainer', ['--store', join(work, 'store-b'), '--generator', `127.0.0.1:${port}`]);
  const client = createClient(TrainerService, trainer.address);
  const spec: MessageInitShape<typeof JobSpecSchema> = {
    algorithm: Algorithm.IRFT,
    datasets: [{ path: data.train, schema: DataSchema.CHAT, maxRows: 32n }],
    hyperparameters: { batchSize: 8, learningRate: 3e-3 },
    algorithmConfig: { case: 'irft', value: { stages: 2, stepsPerStage: 4n, beta: 0.5, generation: { temperature: 0, maxNewTokens: 24 } } },
    checkpoints: { everyNSteps: 2n },
  };
  const { job } = await client.startJob({ spec });
  const evs: WatchJobResponse[] = [];
  let restarted: Promise<void> | undefined;
  for await (const e of client.watchJob({ jobId: job!.id, fromBeginning: true })) {
    evs.push(e);
    // Right after the first push the stage's generation is in flight (or, if already done, the next
    // stage's push comes well within the 2 s outage): either way the unit fails and is retried.
    if (e.event.case === 'weightsPushed' && !restarted) {
      generator.proc.kill('SIGKILL');
      restarted = (async () => {
        await generator.exited;
        await new Promise((r) => setTimeout(r, 2000));
        generator = await start('generator', genArgs);
      })();
    }
  }
  await restarted;
  assert.equal(finalState(evs), JobState.SUCCEEDED, errorsOf(evs));
  const retries = logsOf(evs).filter((m) => /push policy \+ generate negatives failed .*; retry \d+ in \d+ ms/.test(m));
  assert.ok(retries.length >= 1, `retry log lines: ${logsOf(evs).join(' | ')}`);
  const delays = retries.map((m) => Number(/in (\d+) ms/.exec(m)![1]));
  if (delays.length >= 3) assert.ok(delays[2]! > delays[0]!, `back-off grows: ${delays.join(', ')} ms`);
  const pushes = evs.flatMap((e) => (e.event.case === 'weightsPushed' ? [e.event.value] : []));
  assert.ok(pushes.length >= 3, `the interrupted stage pushed again (${pushes.length} pushes for 2 stages)`);
  const genVersions = evs.flatMap((e) => (e.event.case === 'stepMetrics' && e.event.value.metrics['gen/weight_version'] !== undefined ? [e.event.value.metrics['gen/weight_version']] : []));
  assert.equal(genVersions.length, 2, 'one set of negatives per stage');
  const steps = evs.flatMap((e) => (e.event.case === 'stepMetrics' && e.event.value.metrics['reward/margin'] !== undefined ? [Number(e.event.value.step)] : []));
  assert.deepEqual(steps, Array.from({ length: 8 }, (_, i) => i + 1));
  const done = (await client.getJob({ jobId: job!.id })).job!;
  assert.equal(done.attempts, 1, 'the trainer kept the job going (no restart)');
  assert.equal(done.lastCheckpoint?.step, 8n);
  client.close();
});

test('eval/loss on eval_datasets is reported at start, every N steps and at the end; the best checkpoint survives keep_last', async () => {
  const trainer = spareTrainer ?? (await start('trainer', ['--store', join(work, 'store-c')]));
  const client = createClient(TrainerService, trainer.address);
  const spec: MessageInitShape<typeof JobSpecSchema> = {
    algorithm: Algorithm.SFT,
    datasets: [{ path: data.train, schema: DataSchema.CHAT }],
    evalDatasets: [{ path: data.heldout, schema: DataSchema.CHAT }],
    hyperparameters: { maxSteps: 20n, batchSize: 32, learningRate: 3e-3 },
    evaluation: { everyNSteps: 5n, atStart: true },
    checkpoints: { everyNSteps: 0n, keepLast: 1 },
  };
  const { job } = await client.startJob({ spec });
  const evs = await events(client, job!.id);
  assert.equal(finalState(evs), JobState.SUCCEEDED, errorsOf(evs));
  const evals = evs.flatMap((e) => (e.event.case === 'evaluation' ? [e.event.value] : []));
  // 160 rows / 32 = 5 steps per epoch: epoch ends coincide with every 5 steps.
  assert.deepEqual(evals.map((e) => Number(e.step)), [0, 5, 10, 15, 20]);
  for (const e of evals) assert.ok(Number.isFinite(e.metrics['eval/loss']) && e.metrics['eval/loss']! > 0, JSON.stringify(e.metrics));
  const losses = evals.map((e) => e.metrics['eval/loss']!);
  assert.ok(losses.at(-1)! < losses[0]! * 0.8, `held-out NLL ${losses[0]!.toFixed(3)} -> ${losses.at(-1)!.toFixed(3)}`);
  const done = (await client.getJob({ jobId: job!.id })).job!;
  const best = done.bestCheckpoint!;
  assert.ok(best?.best, 'best_checkpoint is set and flagged');
  const min = Math.min(...losses);
  assert.equal(best.metrics['eval/loss'], min, 'the best checkpoint holds the lowest eval/loss');
  assert.equal(Number(best.step), Number(evals[losses.indexOf(min)]!.step));
  assert.equal(done.latestMetrics['eval/loss'], losses.at(-1));
  const newBest = evals.filter((e) => e.newBest).map((e) => Number(e.step));
  assert.ok(newBest.includes(0) && newBest.includes(Number(best.step)));
  const kept = (await client.listCheckpoints({ jobId: job!.id })).checkpoints;
  assert.ok(kept.some((c) => c.version === best.version && c.best), 'the best checkpoint was not pruned');
  assert.ok(kept.some((c) => c.version === done.lastCheckpoint!.version), 'nor the last');
  assert.ok(kept.length <= 2, `keep_last 1 + the best: ${kept.map((c) => `v${c.version}`).join(', ')}`);
  client.close();
});
