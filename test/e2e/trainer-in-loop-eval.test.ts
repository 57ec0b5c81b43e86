// In-loop evaluation through the evaluator service, every role its own process as `juice up` starts
// them (trainer and evaluator share one --store; the trainer names the evaluator with --evaluator): an
// SFT job with EvalConfig.tasks gets "<task>/<metric>" metrics at each evaluation point (at_start and
// every_n_steps), each the evaluator's measurement of that step's checkpoint; best_metric on one of them
// keeps the checkpoint the metric chose, also when keep_last prunes the others. A trainer with no
// evaluator refuses such a job with FAILED_PRECONDITION naming spec.endpoints.evaluator, and a task the
// evaluator does not know fails the job with the evaluator's NOT_FOUND.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSyntheticDatasets } from '@juice/data';
import { Algorithm, DataSchema, EvaluatorService, JobState, MetricGoal, RunState, TrainerService, type Job, type WatchJobResponse } from '@juice/proto';
import { createClient, ServiceError, status } from '@juice/service-kit';
import { startRole, type RunningRole } from '../support/spawn-service.js';

const work = mkdtempSync(join(tmpdir(), 'juice-in-loop-eval-'));
const store = join(work, 'store');
let evaluator: RunningRole;
let trainer: RunningRole;
let bare: RunningRole;
let trainerClient: ReturnType<typeof createClient<typeof TrainerService>>;
let bareClient: ReturnType<typeof createClient<typeof TrainerService>>;
let evalClient: ReturnType<typeof createClient<typeof EvaluatorService>>;
let train = '';

before(async () => {
  const data = await writeSyntheticDatasets(join(work, 'data'), { seed: 3, trainSize: 64, evalSize: 8 });
  train = data.files.train;
  evaluator = await startRole('evaluator', ['--tasks-dir', join(work, 'data', 'tasks'), '--store', store]);
  [trainer, bare] = await Promise.all([
    startRole('trainer', ['--store', store, '--evaluator', evaluator.address]),
    // No evaluator configured (and a store of its own: two trainers must not share job records).
    startRole('trainer', ['--store', join(work, 'bare-store')]),
  ]);
  trainerClient = createClient(TrainerService, trainer.address);
  bareClient = createClient(TrainerService, bare.address);
  evalClient = createClient(EvaluatorService, evaluator.address);
});
after(async () => {
  for (const c of [trainerClient, bareClient, evalClient]) c?.close();
  await Promise.all([trainer?.stop(), bare?.stop(), evaluator?.stop()]);
});

const TASKS = ['synthetic_ppl', 'synthetic_mc'].map((n) => ({ kind: { case: 'name' as const, value: n } }));

async function runToEnd(jobId: string): Promise<{ events: WatchJobResponse[]; job: Job }> {
  const events: WatchJobResponse[] = [];
  for await (const e of trainerClient.watchJob({ jobId, fromBeginning: true, omitLogs: true })) events.push(e);
  return { events, job: (await trainerClient.getJob({ jobId })).job! };
}

test('an SFT job gets evaluator task metrics at its evaluation points; best_metric keeps the checkpoint it chose', async (t) => {
  const { job: started } = await trainerClient.startJob({
    spec: {
      algorithm: Algorithm.SFT,
      datasets: [{ path: train, schema: DataSchema.CHAT }],
      hyperparameters: { maxSteps: 4n, batchSize: 8, learningRate: 1e-2 },
      // Maximising perplexity picks the untrained model (at_start): a best that is neither the last
      // checkpoint nor kept by keep_last 1, so only the best-metric bookkeeping can keep it.
      evaluation: { atStart: true, everyNSteps: 2n, tasks: TASKS, limit: 4, bestMetric: 'synthetic_ppl/perplexity', bestMetricGoal: MetricGoal.MAXIMIZE },
      checkpoints: { keepLast: 1 },
    },
  });
  const { events, job } = await runToEnd(started!.id);
  assert.equal(job.state, JobState.SUCCEEDED, job.error?.message);

  const evals = events.flatMap((e) => (e.event.case === 'evaluation' ? [e.event.value] : []));
  assert.deepEqual(evals.map((e) => e.step), [0n, 2n, 4n], 'at_start, then every 2 steps (the last is also the job end)');
  for (const e of evals) {
    for (const m of ['synthetic_ppl/perplexity', 'synthetic_ppl/nll', 'synthetic_mc/acc']) assert.ok(Number.isFinite(e.metrics[m]), `step ${e.step}: ${m} in ${Object.keys(e.metrics).join(', ')}`);
  }
  const ppl = evals.map((e) => e.metrics['synthetic_ppl/perplexity']!);
  t.diagnostic(`synthetic_ppl/perplexity at steps 0, 2, 4: ${ppl.map((p) => p.toFixed(3)).join(', ')}; synthetic_mc/acc: ${evals.map((e) => e.metrics['synthetic_mc/acc']).join(', ')}`);
  assert.ok(ppl[2]! < ppl[0]!, `training lowers the task perplexity: ${ppl.join(' -> ')}`);
  assert.deepEqual(evals.map((e) => e.newBest), ppl.map((p, i) => ppl.slice(0, i).every((q) => p > q)), 'newBest where the maximum so far rose');
  assert.equal(job.latestMetrics['synthetic_mc/acc'], evals.at(-1)!.metrics['synthetic_mc/acc'], 'task metrics are the job\'s latest metrics');

  // Each evaluation point evaluated the checkpoint of its own step; the best is the at_start one.
  const saved = events.flatMap((e) => (e.event.case === 'checkpointSaved' ? [e.event.value.checkpoint!] : []));
  const versionAt = (step: bigint) => saved.find((c) => c.step === step)!.version;
  const best = job.bestCheckpoint!;
  assert.equal(best.step, 0n);
  assert.equal(best.version, versionAt(0n));
  assert.equal(best.metrics['synthetic_ppl/perplexity'], ppl[0]);
  const kept = (await trainerClient.listCheckpoints({ jobId: job.id })).checkpoints;
  assert.deepEqual(kept.map((c) => [c.version, c.best]), [[versionAt(0n), true], [versionAt(4n), false]], 'keep_last 1 keeps the last and the best');

  // The recorded metrics are the evaluator's measurement of that checkpoint: a run of our own on it,
  // by reference, gives the same numbers.
  const { runId } = await evalClient.evaluate({ target: { kind: { case: 'model', value: { kind: { case: 'checkpoint', value: { jobId: job.id, version: best.version } } } } }, tasks: TASKS, limit: 4 });
  let state = RunState.UNSPECIFIED;
  for await (const e of evalClient.watchRun({ runId, fromBeginning: true })) if (e.event.case === 'state') state = e.event.value;
  assert.equal(state, RunState.SUCCEEDED);
  const report = await evalClient.getReport({ runId });
  const again = Object.fromEntries(report.results.flatMap((r) => Object.entries(r.metrics).map(([m, v]) => [`${r.task}/${m}`, v])));
  for (const [m, v] of Object.entries(again)) assert.equal(evals[0]!.metrics[m], v, m);

  // The runs the trainer started are labelled with the job and step.
  const runs = (await evalClient.listRuns({ labels: { job_id: job.id } })).runs;
  assert.deepEqual(runs.map((r) => r.labels.step).sort(), ['0', '2', '4']);
});

test('tasks with no evaluator configured: FAILED_PRECONDITION naming spec.endpoints.evaluator', async () => {
  for (const validateOnly of [true, false]) {
    await assert.rejects(
      bareClient.startJob({ spec: { algorithm: Algorithm.SFT, datasets: [{ path: train, schema: DataSchema.CHAT }], evaluation: { tasks: TASKS } }, validateOnly }),
      (e: unknown) => e instanceof ServiceError && e.code === status.FAILED_PRECONDITION && e.message.includes('spec.endpoints.evaluator'),
    );
  }
});

test('a task the evaluator does not know fails the job with the evaluator\'s status', async () => {
  const { job: started } = await trainerClient.startJob({
    spec: {
      algorithm: Algorithm.SFT,
      datasets: [{ path: train, schema: DataSchema.CHAT }],
      hyperparameters: { maxSteps: 1n, batchSize: 8 },
      evaluation: { tasks: [{ kind: { case: 'name', value: 'no_such_task' } }] },
    },
  });
  const { job } = await runToEnd(started!.id);
  assert.equal(job.state, JobState.FAILED);
  assert.equal(job.error?.code, 'NOT_FOUND', job.error?.message);
  assert.match(job.error!.message, /no_such_task/);
  assert.equal(job.error?.retryable, false);
});
