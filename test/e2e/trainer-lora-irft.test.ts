// A LoRA IRFT job across services (issue #14): the generator (its own process, --max-adapters 1) serves the
// job's base model; each stage the trainer pushes ONLY the adapter (lora_adapter_only + adapter_name: push
// bytes = adapter bytes, far below the model's), samples negatives from that adapter at exactly the pushed
// version, and trains the adapters with π_ref = the stage-start adapters (margin 0 at each stage's first
// step). The job's checkpoint is a PEFT directory. A generator serving another base is refused
// FAILED_PRECONDITION before anything is pushed. A LoRA SFT job with weight_sync.every_n_steps keeps the
// generator serving its adapter (adapter-only pushes every N steps).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSyntheticDatasets } from '@juice/data';
import { createDefaultModel, loadModel, loraParameterShapes } from '@juice/models';
import { Algorithm, DataSchema, GeneratorService, JobState, TrainerService, type WatchJobResponse } from '@juice/proto';
import { createClient } from '@juice/service-kit';
import { startRole, type RunningRole } from '../support/spawn-service.js';

const work = mkdtempSync(join(tmpdir(), 'juice-lora-irft-'));
const baseDir = join(work, 'base');
let generator: RunningRole;
let trainer: RunningRole;
let client: ReturnType<typeof createClient<typeof TrainerService>>;
let gen: ReturnType<typeof createClient<typeof GeneratorService>>;
let trainFile: string;

before(async () => {
  const data = await writeSyntheticDatasets(join(work, 'data'), { seed: 3, trainSize: 32, evalSize: 8 });
  trainFile = data.files.train;
  createDefaultModel(baseDir, { corpus: readFileSync(trainFile, 'utf8').split('\n').filter(Boolean), seed: 5 });
  generator = await startRole('generator', ['--model', baseDir, '--max-adapters', '4']);
  trainer = await startRole('trainer', ['--store', join(work, 'store'), '--generator', generator.address]);
  client = createClient(TrainerService, trainer.address);
  gen = createClient(GeneratorService, generator.address);
});
after(async () => {
  client?.close();
  gen?.close();
  await Promise.all([trainer?.stop(), generator?.stop()]);
});

const lora = { rank: 4, alpha: 8, targetModules: ['q_proj', 'v_proj'] };
const irftSpec = (model: { kind: { case: 'hfDir'; value: string } } | undefined) => ({
  algorithm: Algorithm.IRFT,
  ...(model ? { model } : {}),
  datasets: [{ path: trainFile, schema: DataSchema.CHAT }],
  hyperparameters: { batchSize: 8, learningRate: 1e-2, lora },
  algorithmConfig: { case: 'irft' as const, value: { stages: 2, stepsPerStage: 4n, beta: 0.5, generation: { temperature: 0, maxNewTokens: 12 } } },
});

async function run(spec: ReturnType<typeof irftSpec>): Promise<{ id: string; events: WatchJobResponse[] }> {
  const { job } = await client.startJob({ spec });
  const events: WatchJobResponse[] = [];
  for await (const e of client.watchJob({ jobId: job!.id, fromBeginning: true })) events.push(e);
  return { id: job!.id, events };
}

const finalState = (events: WatchJobResponse[]) => events.filter((e) => e.event.case === 'stateChange').at(-1)!;

test('LoRA IRFT pushes the adapter only (bytes = adapter bytes), samples from it at the pushed version, and checkpoints PEFT', async (t) => {
  const base = loadModel(baseDir);
  const adapterBytes = loraParameterShapes(base.config, lora).reduce((n, s) => n + 4 * s.shape.reduce((a, b) => a * b, 1), 0);
  const modelBytes = 4 * base.params.numParams;
  const { id, events } = await run(irftSpec({ kind: { case: 'hfDir', value: baseDir } }));
  const errors = events.filter((e) => e.event.case === 'error').map((e) => JSON.stringify(e.event.value));
  const final = finalState(events);
  assert.equal(final.event.case === 'stateChange' && final.event.value.to, JobState.SUCCEEDED, errors.join('\n'));

  const pushes = events.flatMap((e) => (e.event.case === 'weightsPushed' ? [e.event.value] : []));
  assert.equal(pushes.length, 2, 'one push per stage');
  t.diagnostic(`push bytes ${pushes.map((p) => p.bytes).join(', ')}; adapter ${adapterBytes} B; full model ${modelBytes} B`);
  for (const p of pushes) assert.equal(Number(p.bytes), adapterBytes, 'push bytes = adapter bytes');
  assert.ok(adapterBytes * 20 < modelBytes, `adapter ${adapterBytes} B vs model ${modelBytes} B`);
  const genVersions = events.flatMap((e) => (e.event.case === 'stepMetrics' && e.event.value.metrics['gen/weight_version'] !== undefined ? [e.event.value.metrics['gen/weight_version']] : []));
  assert.deepEqual(genVersions, pushes.map((p) => Number(p.version)), 'negatives came from the version just pushed');

  for (const stage of [0, 1]) {
    const margins = events.flatMap((e) => (e.event.case === 'stepMetrics' && e.event.value.stage === stage && e.event.value.metrics['reward/margin'] !== undefined ? [e.event.value.metrics['reward/margin']] : []));
    assert.equal(margins.length, 4);
    assert.ok(Math.abs(margins[0]!) < 1e-4, `stage ${stage} starts with π = π_ref = the stage-start adapters (margin ${margins[0]})`);
  }

  const info = (await gen.getModelInfo({})).model!;
  const held = info.adapters.find((a) => a.name === `juice-${id}`.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64));
  assert.ok(held, `the generator holds the job's adapter (${info.adapters.map((a) => a.name).join(', ')})`);
  assert.equal(Number(held.bytes), adapterBytes);
  assert.equal(held.version, pushes[1]!.version);
  assert.equal(info.modelSha256, base.sha256, 'the base the generator serves is untouched');

  const ckpt = (await client.getJob({ jobId: id })).job!.lastCheckpoint!.path;
  assert.ok(existsSync(join(ckpt, 'adapter_model.safetensors')) && !existsSync(join(ckpt, 'model.safetensors')), 'the checkpoint is a PEFT adapter directory');
});

test('a LoRA IRFT job whose base the generator does not serve fails FAILED_PRECONDITION before pushing', async () => {
  // No spec.model: the embedded default, created in the job's directory with its own tokenizer (another base).
  const { events } = await run(irftSpec(undefined));
  const final = finalState(events);
  assert.equal(final.event.case === 'stateChange' && final.event.value.to, JobState.FAILED);
  const err = events.find((e) => e.event.case === 'error')!;
  assert.ok(err.event.case === 'error' && /generator must serve the job's base model/.test(err.event.value.message), JSON.stringify(err.event.value));
  assert.equal(events.filter((e) => e.event.case === 'weightsPushed').length, 0);
});

test('a LoRA SFT job with weight_sync.every_n_steps pushes its adapter alone every N steps to spec.endpoints.generator', async () => {
  const base = loadModel(baseDir);
  const adapterBytes = loraParameterShapes(base.config, lora).reduce((n, s) => n + 4 * s.shape.reduce((a, b) => a * b, 1), 0);
  const { job } = await client.startJob({
    spec: {
      algorithm: Algorithm.SFT,
      model: { kind: { case: 'hfDir', value: baseDir } },
      datasets: [{ path: trainFile, schema: DataSchema.CHAT }],
      hyperparameters: { maxSteps: 4n, batchSize: 8, learningRate: 1e-2, lora },
      endpoints: { generator: [generator.address] },
      weightSync: { everyNSteps: 2n },
    },
  });
  const events: WatchJobResponse[] = [];
  for await (const e of client.watchJob({ jobId: job!.id, fromBeginning: true })) events.push(e);
  const final = finalState(events);
  assert.equal(final.event.case === 'stateChange' && final.event.value.to, JobState.SUCCEEDED, events.filter((e) => e.event.case === 'error').map((e) => JSON.stringify(e.event.value)).join('\n'));
  const pushes = events.flatMap((e) => (e.event.case === 'weightsPushed' ? [e.event.value] : []));
  assert.equal(pushes.length, 2, 'after steps 2 and 4');
  for (const p of pushes) assert.equal(Number(p.bytes), adapterBytes, 'push bytes = adapter bytes');
  const held = (await gen.getModelInfo({})).model!.adapters.find((a) => a.name === `juice-${job!.id}`.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64));
  assert.equal(held?.version, pushes[1]!.version, 'the generator serves the adapter of step 4');
});
