// In-loop evaluator tasks on a LoRA job (every role its own process, trainer and evaluator sharing one
// --store): at each evaluation point the evaluator loads the job's base (spec.model) with that step's PEFT
// checkpoint as EvalTarget.adapter. At step 0 the adapter is PEFT's initial one (B = 0), so the task
// metrics equal the base model's own, evaluated directly; training then moves them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSyntheticDatasets } from '@juice/data';
import { createDefaultModel } from '@juice/models';
import { Algorithm, DataSchema, EvaluatorService, JobState, RunState, TrainerService, type WatchJobResponse } from '@juice/proto';
import { createClient } from '@juice/service-kit';
import { startRole, type RunningRole } from '../support/spawn-service.js';

const work = mkdtempSync(join(tmpdir(), 'juice-lora-in-loop-eval-'));
const store = join(work, 'store');
const baseDir = join(work, 'base');
let evaluator: RunningRole;
let trainer: RunningRole;
let trainerClient: ReturnType<typeof createClient<typeof TrainerService>>;
let evalClient: ReturnType<typeof createClient<typeof EvaluatorService>>;
let train = '';

before(async () => {
  const data = await writeSyntheticDatasets(join(work, 'data'), { seed: 3, trainSize: 64, evalSize: 8 });
  train = data.files.train;
  createDefaultModel(baseDir, { corpus: readFileSync(train, 'utf8').split('\n').filter(Boolean), seed: 5 });
  evaluator = await startRole('evaluator', ['--tasks-dir', join(work, 'data', 'tasks'), '--store', store]);
  trainer = await startRole('trainer', ['--store', store, '--evaluator', evaluator.address]);
  trainerClient = createClient(TrainerService, trainer.address);
  evalClient = createClient(EvaluatorService, evaluator.address);
});
after(async () => {
  for (const c of [trainerClient, evalClient]) c?.close();
  await Promise.all([trainer?.stop(), evaluator?.stop()]);
});

const TASKS = [{ kind: { case: 'name' as const, value: 'synthetic_ppl' } }];

test('a LoRA SFT job gets evaluator task metrics on base + its adapter; at step 0 they equal the base model\'s', async (t) => {
  const { job: started } = await trainerClient.startJob({
    spec: {
      algorithm: Algorithm.SFT,
      model: { kind: { case: 'hfDir', value: baseDir } },
      datasets: [{ path: train, schema: DataSchema.CHAT }],
      hyperparameters: { maxSteps: 4n, batchSize: 8, learningRate: 3e-2, lora: { rank: 8, alpha: 16, targetModules: ['all-linear'] } },
      evaluation: { atStart: true, everyNSteps: 2n, tasks: TASKS, limit: 4 },
    },
  });
  const events: WatchJobResponse[] = [];
  for await (const e of trainerClient.watchJob({ jobId: started!.id, fromBeginning: true, omitLogs: true })) events.push(e);
  const job = (await trainerClient.getJob({ jobId: started!.id })).job!;
  assert.equal(job.state, JobState.SUCCEEDED, job.error?.message);
  const evals = events.flatMap((e) => (e.event.case === 'evaluation' ? [e.event.value] : []));
  assert.deepEqual(evals.map((e) => e.step), [0n, 2n, 4n]);
  const ppl = evals.map((e) => e.metrics['synthetic_ppl/perplexity']!);
  assert.ok(ppl.every(Number.isFinite), ppl.join(', '));

  // The base alone, evaluated directly by the same evaluator on the same task and limit.
  const { runId } = await evalClient.evaluate({ target: { kind: { case: 'model', value: { kind: { case: 'hfDir', value: baseDir } } } }, tasks: TASKS, limit: 4 });
  for await (const _ of evalClient.watchRun({ runId }));
  const report = await evalClient.getReport({ runId });
  assert.equal(report.run?.state, RunState.SUCCEEDED);
  const basePpl = report.results.find((x) => x.task === 'synthetic_ppl')!.metrics['perplexity']!;
  t.diagnostic(`synthetic_ppl/perplexity: base ${basePpl}; LoRA job at steps 0, 2, 4: ${ppl.join(', ')}`);
  assert.ok(Math.abs(ppl[0]! - basePpl) <= 1e-6 * basePpl, `step 0 (B = 0) equals the base: ${ppl[0]} vs ${basePpl}`);
  assert.ok(ppl[2]! !== ppl[0]! && ppl[2]! < ppl[0]!, `training the adapter lowers the task perplexity: ${ppl.join(' -> ')}`);
});
