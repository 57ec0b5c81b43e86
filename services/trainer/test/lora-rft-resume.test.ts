// A LoRA RFT job (APA: adapters + value head on the frozen base) stopped by a trainer shutdown inside round
// 2's policy updates resumes in a new job manager without sampling the round again and ends with the adapter
// bytes of an uninterrupted run. Generator (serving the job's base, named adapters) and reward model are
// their own processes; the generator's per-sample seeds make the later rounds sample what the control did.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { startRoleProcess, type RoleProcess } from '@juice/cli';
import { writeSyntheticDatasets } from '@juice/data';
import { createDefaultModel } from '@juice/models';
import { Algorithm, DataSchema, JobSpecSchema, JobState, PolicyGradientMethod, type Job, type WatchJobResponse } from '@juice/proto';
import { JobManager } from '../src/job-manager.js';
import { JobStore } from '../src/job-store.js';
import { rftRunner } from '../src/runners/rft-runner.js';

const work = mkdtempSync(join(tmpdir(), 'juice-lora-rft-resume-'));
const quiet = { info() {}, warn() {}, error() {} };
const meta = { configSha256: 'x', dataFiles: [], trainerVersion: 'test' };
const baseDir = join(work, 'base');
let generator: RoleProcess;
let rewardModel: RoleProcess;
let train: string;
before(async () => {
  train = (await writeSyntheticDatasets(join(work, 'data'), { seed: 5, trainSize: 24, evalSize: 4 })).files.train;
  createDefaultModel(baseDir, { corpus: readFileSync(train, 'utf8').split('\n').filter(Boolean), seed: 5 });
  [generator, rewardModel] = await Promise.all([startRoleProcess('generator', ['--model', baseDir, '--max-adapters', '4']), startRoleProcess('reward-model', ['--model', baseDir])]);
});
after(async () => {
  await Promise.all([generator?.stop(), rewardModel?.stop()]);
});

const manager = (root: string) => new JobManager(new JobStore(root), { [Algorithm.RFT]: rftRunner({ generator: generator.address, rewardModel: rewardModel.address }) }, quiet);
const spec = (): MessageInitShape<typeof JobSpecSchema> => ({
  algorithm: Algorithm.RFT,
  model: { kind: { case: 'hfDir', value: baseDir } },
  datasets: [{ path: train, schema: DataSchema.CHAT }],
  hyperparameters: { batchSize: 4, learningRate: 1e-2, lora: { rank: 4, alpha: 8, targetModules: ['q_proj', 'v_proj', 'up_proj'] } },
  algorithmConfig: { case: 'rft', value: { method: PolicyGradientMethod.APA, rounds: 2, promptsPerRound: 8, samplesPerPrompt: 2, policyEpochs: 2, generation: { maxNewTokens: 10 }, rewardUpdate: { learningRate: 3e-3, batchSize: 4 } } },
  checkpoints: { everyNSteps: 3n },
});

async function untilDone(m: JobManager, job: Job): Promise<WatchJobResponse[]> {
  const out: WatchJobResponse[] = [];
  for await (const e of m.watch(job, { fromBeginning: true, afterSequence: 0n, omitLogs: false, signal: new AbortController().signal })) out.push(e);
  return out;
}
const errors = (evs: WatchJobResponse[]) => evs.flatMap((e) => (e.event.case === 'error' ? [e.event.value.message] : [])).join('\n');

test('LoRA APA stopped inside round 2\'s policy updates resumes (adapters, value head, moments, round state) to the uninterrupted adapter bytes', async () => {
  const cm = manager(join(work, 'control'));
  const control = cm.start(create(JobSpecSchema, spec()), meta);
  const cev = await untilDone(cm, control);
  assert.equal(control.state, JobState.SUCCEEDED, errors(cev));

  const root = join(work, 'stopped');
  const first = manager(root);
  const job = first.start(create(JobSpecSchema, spec()), meta);
  for await (const e of first.watch(job, { fromBeginning: true, afterSequence: 0n, omitLogs: true, signal: new AbortController().signal })) {
    if (e.event.case === 'error') assert.fail(e.event.value.message);
    if (e.event.case === 'stepMetrics' && Number(e.event.value.step) === 11 && e.event.value.metrics.policy_loss !== undefined) break;
  }
  await first.stopAll();
  const stopped = new JobStore(root).loadAll(() => {}).find((j) => j.id === job.id)!;
  const stopStep = Number(stopped.lastCheckpoint!.step);
  assert.ok(stopStep >= 11 && stopStep < 16, `stopped inside round 2's updates (step ${stopStep})`);
  const second = manager(root);
  second.resumeInterrupted();
  const resumed = second.get(job.id)!;
  const events = await untilDone(second, resumed);
  assert.equal(resumed.state, JobState.SUCCEEDED, errors(events));
  const at = events.findIndex((e) => e.event.case === 'log' && e.event.value.message.startsWith('resuming from checkpoint'));
  const firstPush = events.slice(at).find((e) => e.event.case === 'weightsPushed' && e.event.value.target === 'generator');
  assert.ok(firstPush && firstPush.event.case === 'weightsPushed', 'the final push');
  assert.equal(events.slice(at).filter((e) => e.event.case === 'weightsPushed' && e.event.value.target === 'generator').length, 1, 'round 2 was not sampled again (only the final push)');
  assert.equal(resumed.lastCheckpoint!.sha256, control.lastCheckpoint!.sha256, 'adapter_model.safetensors bit-identical');
});
