// An SFT job on the trainer (its own process): the embedded default model is created with a tokenizer
// trained on the job's demonstrations, trained on juice's synthetic data, watched step by step, and
// saved as a checkpoint that loads as a Hugging Face directory.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSyntheticDatasets } from '@juice/data';
import { loadModel } from '@juice/models';
import { Algorithm, DataSchema, JobState, TrainerService, type WatchJobResponse } from '@juice/proto';
import { createClient } from '@juice/service-kit';
import { startRole, type RunningRole } from '../support/spawn-service.js';

const work = mkdtempSync(join(tmpdir(), 'juice-sft-'));
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

test('an SFT job trains the embedded model on demonstrations, reports every step, and checkpoints', async () => {
  const data = await writeSyntheticDatasets(join(work, 'data'), { seed: 1, trainSize: 400, evalSize: 20 });
  const { job } = await client.startJob({
    spec: {
      name: 'sft-smoke',
      algorithm: Algorithm.SFT,
      datasets: [{ path: data.files.train, schema: DataSchema.CHAT }],
      hyperparameters: { maxSteps: 40n, batchSize: 16, learningRate: 3e-3 },
    },
  });
  const events: WatchJobResponse[] = [];
  for await (const e of client.watchJob({ jobId: job!.id, fromBeginning: true })) events.push(e);
  const final = events.filter((e) => e.event.case === 'stateChange').at(-1)!;
  assert.equal(final.event.case === 'stateChange' && final.event.value.to, JobState.SUCCEEDED, JSON.stringify(events.filter((e) => e.event.case === 'error').map((e) => e.event.value)));
  const losses = events.flatMap((e) => (e.event.case === 'stepMetrics' ? [e.event.value.metrics.loss!] : []));
  assert.equal(losses.length, 40, 'one metrics event per step');
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.ok(mean(losses.slice(-5)) < mean(losses.slice(0, 5)) * 0.6, `loss ${mean(losses.slice(0, 5)).toFixed(3)} -> ${mean(losses.slice(-5)).toFixed(3)}`);
  const done = (await client.getJob({ jobId: job!.id })).job!;
  assert.equal(done.state, JobState.SUCCEEDED);
  assert.equal(done.progress?.step, 40n);
  assert.ok(done.lastCheckpoint?.path, 'a checkpoint was saved');
  const m = loadModel(done.lastCheckpoint!.path);
  assert.equal(m.config.architecture, 'llama');
  assert.equal(m.tokenizer.decode(m.tokenizer.encode('What is 2+3?')), 'What is 2+3?');
  assert.ok(events.some((e) => e.event.case === 'checkpointSaved'));
});

test('a DPO job on a small preference set raises the chosen-over-rejected accuracy', async () => {
  const file = join(work, 'prefs.jsonl');
  const rows = Array.from({ length: 256 }, (_, i) => {
    const a = (i * 7) % 50;
    const b = (i * 13) % 40;
    return JSON.stringify({ prompt: `What is ${a}+${b}?`, chosen: `${a}+${b}=${a + b}`, rejected: `${a}+${b}=${a + b + 1 + (i % 3)}` });
  });
  writeFileSync(file, rows.join('\n') + '\n');
  const { job } = await client.startJob({
    spec: { algorithm: Algorithm.DPO, datasets: [{ path: file, schema: DataSchema.PREFERENCE }], hyperparameters: { maxSteps: 40n, batchSize: 16, learningRate: 3e-3 }, algorithmConfig: { case: 'dpo', value: { beta: 0.5 } } },
  });
  const metrics: Record<string, number>[] = [];
  let final = JobState.UNSPECIFIED;
  for await (const e of client.watchJob({ jobId: job!.id, fromBeginning: true })) {
    if (e.event.case === 'stepMetrics') metrics.push(e.event.value.metrics);
    if (e.event.case === 'stateChange') final = e.event.value.to;
  }
  assert.equal(final, JobState.SUCCEEDED);
  const acc = (xs: Record<string, number>[]) => xs.reduce((a, m) => a + m['reward/accuracy']!, 0) / xs.length;
  // Step 1 runs with the policy equal to the reference: margin ~0 (accuracy is then a coin toss).
  assert.ok(Math.abs(metrics[0]!['reward/margin']!) < 1e-3, `first margin ${metrics[0]!['reward/margin']}`);
  assert.ok(acc(metrics.slice(-5)) >= 0.9, `accuracy over the last steps ${acc(metrics.slice(-5)).toFixed(2)}`);
  assert.ok(metrics.at(-1)!['reward/margin']! > 0.5, `margin ${metrics.at(-1)!['reward/margin']}`);
});
