// The PRETRAIN job (ALGORITHM_PRETRAIN) through the real job manager and runner, in process: TEXT documents
// packed into max_length windows train the embedded default model (its tokenizer trained on the documents)
// with the next-token loss over every token; eval/loss on packed eval_datasets; a job stopped by a trainer
// shutdown resumes to the uninterrupted run's weights; StartJob refuses what PRETRAIN cannot honour.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { Algorithm, DataSchema, JobSpecSchema, JobState, validateJobSpec, type Job, type WatchJobResponse } from '@juice/proto';
import { JobManager } from '../src/job-manager.js';
import { JobStore } from '../src/job-store.js';
import { pretrainRunner } from '../src/runners/pretrain-runner.js';

const work = mkdtempSync(join(tmpdir(), 'juice-pretrain-'));
after(() => rmSync(work, { recursive: true, force: true }));
const quiet = { info() {}, warn() {}, error() {} };
const runners = () => ({ [Algorithm.PRETRAIN]: pretrainRunner() });

const sentences = ['It is a truth universally acknowledged.', 'The sun rose over the quiet village.', 'She walked to the garden and read a letter.', 'He said nothing, and the room was still.'];
const docs = join(work, 'docs.jsonl');
const heldOut = join(work, 'held-out.jsonl');
writeFileSync(docs, Array.from({ length: 24 }, (_, i) => JSON.stringify({ text: `${sentences[i % 4]} ${sentences[(i + 1) % 4]}` })).join('\n') + '\n');
writeFileSync(heldOut, JSON.stringify({ text: `${sentences[2]} ${sentences[3]}` }) + '\n');

type Spec = Extract<MessageInitShape<typeof JobSpecSchema>, { $typeName?: undefined }>;
const spec = (extra: Partial<Spec> = {}): Spec => ({
  algorithm: Algorithm.PRETRAIN,
  datasets: [{ path: docs, schema: DataSchema.TEXT }],
  evalDatasets: [{ path: heldOut, schema: DataSchema.TEXT }],
  hyperparameters: { maxSteps: 16n, batchSize: 4, maxLength: 32, learningRate: 1e-2, seed: 5n },
  checkpoints: { everyNSteps: 4n },
  evaluation: { everyNSteps: 8n, atStart: true },
  ...extra,
});

async function events(m: JobManager, job: Job): Promise<WatchJobResponse[]> {
  const out: WatchJobResponse[] = [];
  for await (const e of m.watch(job, { fromBeginning: true, afterSequence: 0n, omitLogs: false, signal: new AbortController().signal })) out.push(e);
  return out;
}
const metrics = (evs: WatchJobResponse[], key: string) => evs.flatMap((e) => (e.event.case === 'stepMetrics' && e.event.value.metrics[key] !== undefined ? [e.event.value.metrics[key]!] : []));
const start = (m: JobManager, s: Spec) => m.start(create(JobSpecSchema, s), { configSha256: 'x', dataFiles: [], trainerVersion: 'test' });

let control: Job;
test('a PRETRAIN job trains the embedded model on packed text: the loss falls, eval/loss on the held-out text falls, checkpoints are causal LMs', async () => {
  const m = new JobManager(new JobStore(join(work, 'control')), runners(), quiet);
  control = start(m, spec());
  const evs = await events(m, control);
  assert.equal(control.state, JobState.SUCCEEDED, control.error?.message);
  const loss = metrics(evs, 'loss');
  assert.equal(loss.length, 16);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.ok(mean(loss.slice(-4)) < 0.75 * mean(loss.slice(0, 4)), `loss fell: ${loss.map((x) => x.toFixed(2)).join(' ')}`);
  const evalLoss = evs.flatMap((e) => (e.event.case === 'evaluation' && e.event.value.metrics['eval/loss'] !== undefined ? [e.event.value.metrics['eval/loss']!] : []));
  assert.ok(evalLoss.length >= 2 && evalLoss.at(-1)! < evalLoss[0]!, `eval/loss fell: ${evalLoss.join(' ')}`);
  const dir = control.lastCheckpoint!.path;
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'trainer_state.json']) assert.ok(existsSync(join(dir, f)), `checkpoint has ${f}`);
  assert.equal(control.progress?.step, 16n);
});

test('a PRETRAIN job stopped by a shutdown at step 6 resumes (weights, AdamW, window cursor) to the uninterrupted weights', async () => {
  const root = join(work, 'resumed');
  const first = new JobManager(new JobStore(root), runners(), quiet);
  const job = start(first, spec());
  for await (const e of first.watch(job, { fromBeginning: true, afterSequence: 0n, omitLogs: true, signal: new AbortController().signal })) {
    if (e.event.case === 'error') assert.fail(e.event.value.message);
    if (e.event.case === 'stepMetrics' && Number(e.event.value.step) === 6 && e.event.value.metrics.loss !== undefined) break;
  }
  await first.stopAll();
  const second = new JobManager(new JobStore(root), runners(), quiet);
  second.resumeInterrupted();
  const resumed = second.get(job.id)!;
  await events(second, resumed);
  assert.equal(resumed.state, JobState.SUCCEEDED, resumed.error?.message);
  assert.equal(resumed.attempts, 2);
  assert.equal(resumed.lastCheckpoint!.sha256, control.lastCheckpoint!.sha256);
});

test('StartJob refuses what PRETRAIN cannot honour, naming the field; TEXT is refused for the other algorithms', () => {
  const problems = (s: Spec) => validateJobSpec(create(JobSpecSchema, s)).list.map((x) => `${x.field}: ${x.problem}`).join('\n');
  assert.equal(problems(spec()), '');
  assert.match(problems(spec({ datasets: [{ path: docs, schema: DataSchema.CHAT }] })), /spec\.datasets\[0\]\.schema: PRETRAIN needs TEXT data/);
  assert.match(problems(spec({ evalDatasets: [{ path: docs, schema: DataSchema.PREFERENCE }] })), /spec\.eval_datasets\[0\]\.schema: PRETRAIN needs TEXT data/);
  assert.match(problems(spec({ hyperparameters: { maxLength: 32, maxPromptLength: 8 } })), /spec\.hyperparameters\.max_prompt_length: PRETRAIN packs raw text/);
  assert.match(problems(spec({ algorithmConfig: { case: 'sft', value: {} } })), /spec\.sft: does not match algorithm PRETRAIN, which has no algorithm config/);
  assert.match(problems({ algorithm: Algorithm.SFT, datasets: [{ path: docs, schema: DataSchema.TEXT }] }), /spec\.datasets\[0\]\.schema: TEXT data \(raw documents\) is read only by PRETRAIN; SFT needs CHAT or PROMPT_COMPLETION/);
  assert.match(problems({ algorithm: Algorithm.DPO, datasets: [{ path: docs, schema: DataSchema.PREFERENCE }], evalDatasets: [{ path: docs, schema: DataSchema.TEXT }] }), /spec\.eval_datasets\[0\]\.schema: .*DPO needs PREFERENCE/);
});
