// A LoRA IRFT job stopped mid-stage (a trainer shutdown) resumes in a new job manager with the stage's
// stored negatives and its stage-start ADAPTERS as the reference buffer (adapter-sized, not model-sized),
// without regenerating, and ends with the adapter bytes of an uninterrupted run. The generator is its own
// process, serving the job's base with room for named adapters.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { CheckpointStore } from '@juice/checkpoint';
import { startRoleProcess, type RoleProcess } from '@juice/cli';
import { writeSyntheticDatasets } from '@juice/data';
import { createDefaultModel, loadModel, loraParameterShapes } from '@juice/models';
import { ParamSet } from '@juice/optim';
import { Algorithm, DataSchema, JobSpecSchema, JobState, type Job, type WatchJobResponse } from '@juice/proto';
import { JobManager } from '../src/job-manager.js';
import { JobStore } from '../src/job-store.js';
import { irftRunner } from '../src/runners/irft-runner.js';

const work = mkdtempSync(join(tmpdir(), 'juice-lora-irft-resume-'));
const quiet = { info() {}, warn() {}, error() {} };
const baseDir = join(work, 'base');
let generator: RoleProcess;
let train: string;
before(async () => {
  const data = await writeSyntheticDatasets(join(work, 'data'), { seed: 3, trainSize: 32, evalSize: 8 });
  train = data.files.train;
  createDefaultModel(baseDir, { corpus: readFileSync(train, 'utf8').split('\n').filter(Boolean), seed: 5 });
  generator = await startRoleProcess('generator', ['--model', baseDir, '--max-adapters', '4']);
});
after(async () => {
  await generator?.stop();
});

const lora = { rank: 4, alpha: 8, targetModules: ['q_proj', 'v_proj', 'o_proj'] };
const spec = (): MessageInitShape<typeof JobSpecSchema> => ({
  algorithm: Algorithm.IRFT,
  model: { kind: { case: 'hfDir', value: baseDir } },
  datasets: [{ path: train, schema: DataSchema.CHAT }],
  hyperparameters: { batchSize: 8, learningRate: 1e-2, lora },
  algorithmConfig: { case: 'irft', value: { stages: 2, stepsPerStage: 5n, beta: 0.5, generation: { temperature: 0, maxNewTokens: 12 } } },
  checkpoints: { everyNSteps: 4n },
});
const runners = () => ({ [Algorithm.IRFT]: irftRunner(generator.address) });

async function untilDone(m: JobManager, job: Job): Promise<WatchJobResponse[]> {
  const out: WatchJobResponse[] = [];
  for await (const e of m.watch(job, { fromBeginning: true, afterSequence: 0n, omitLogs: false, signal: new AbortController().signal })) out.push(e);
  return out;
}

test('LoRA IRFT stopped mid-stage resumes with the stored negatives and stage-start adapters to the uninterrupted adapter bytes', async () => {
  const root = join(work, 'stopped');
  const first = new JobManager(new JobStore(root), runners(), quiet);
  const job = first.start(create(JobSpecSchema, spec()), { configSha256: 'x', dataFiles: [], trainerVersion: 'test' });
  for await (const e of first.watch(job, { fromBeginning: true, afterSequence: 0n, omitLogs: true, signal: new AbortController().signal })) {
    if (e.event.case === 'error') assert.fail(e.event.value.message);
    if (e.event.case === 'stepMetrics' && Number(e.event.value.step) === 7 && e.event.value.metrics.loss !== undefined) break;
  }
  await first.stopAll();
  const stopped = new JobStore(root).loadAll(() => {}).find((j) => j.id === job.id)!;
  const stopStep = Number(stopped.lastCheckpoint!.step);
  assert.ok(stopStep >= 7 && stopStep < 10, `stopped inside stage 2 (step ${stopStep})`);
  assert.equal(stopped.dataPosition?.stageSamplesReady, true);
  // The mid-stage reference is the stage-start adapters: an adapter-sized buffer.
  const store = CheckpointStore.open(join(root, 'checkpoints'));
  const files = store.load(job.id, Number(stopped.lastCheckpoint!.version)).files;
  const adapterFloats = new ParamSet(loraParameterShapes(loadModel(baseDir).config, lora)).length;
  assert.equal(readFileSync(files.get('buffer-reference.f32')!).byteLength, 4 * adapterFloats);

  const second = new JobManager(new JobStore(root), runners(), quiet);
  second.resumeInterrupted();
  const resumed = second.get(job.id)!;
  const events = await untilDone(second, resumed);
  assert.equal(resumed.state, JobState.SUCCEEDED, resumed.error?.message);
  const attempt2 = events.slice(events.findIndex((e) => e.event.case === 'log' && e.event.value.message.startsWith('resuming from checkpoint')));
  assert.equal(attempt2.filter((e) => e.event.case === 'weightsPushed').length, 0, 'the resumed stage did not regenerate');

  const m = new JobManager(new JobStore(join(work, 'control')), runners(), quiet);
  const control = m.start(create(JobSpecSchema, spec()), { configSha256: 'x', dataFiles: [], trainerVersion: 'test' });
  await untilDone(m, control);
  assert.equal(control.state, JobState.SUCCEEDED, control.error?.message);
  assert.equal(resumed.lastCheckpoint!.sha256, control.lastCheckpoint!.sha256, 'adapter_model.safetensors bit-identical');
});
