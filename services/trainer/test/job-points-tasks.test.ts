// JobPoints with evaluator tasks (EvalConfig.tasks), the evaluator replaced by a scripted one: each
// evaluation point writes the step's checkpoint before the tasks run on it (they are asked for exactly
// that version), a task metric chosen by best_metric marks that version best after the fact and keeps it
// through keep_last, a step that is not an evaluation point is never judged by a task metric, and a
// resumed job's JobPoints start from the job's best (the version the tasks marked) rather than the older
// record in that checkpoint's own trainer state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { CheckpointStore } from '@juice/checkpoint';
import { createDefaultModel, DEFAULT_MODEL_CONFIG, loadModel } from '@juice/models';
import { Algorithm, JobSchema, JobSpecSchema, type Job } from '@juice/proto';
import type { JobEvent, RunContext } from '../src/job-manager.js';
import type { TaskEvaluation } from '../src/pipeline/evaluator-tasks.js';
import { JobPoints, type JobPoint } from '../src/runners/job-points.js';
import { readTrainerState } from '../src/runners/trainer-state.js';

const root = mkdtempSync(join(tmpdir(), 'juice-points-tasks-'));
const modelDir = join(root, 'model');
createDefaultModel(modelDir, { corpus: ['one two three four'], seed: 1, config: { ...DEFAULT_MODEL_CONFIG, hiddenSize: 16, intermediateSize: 32, numLayers: 1, numHeads: 2, numKvHeads: 1, headDim: 8 } });
const model = loadModel(modelDir);

function context(job: Job, store: CheckpointStore, events: JobEvent[]): RunContext {
  return { job, checkpoints: store, jobDir: root, resuming: false, signal: new AbortController().signal, emit: (e) => void events.push(e), save() {} };
}
const point = (step: number): JobPoint => ({ step, epoch: 0, stage: 0, stageStep: step, cursor: { epoch: 0, rowsConsumed: step, shuffleSeed: 1 }, optimizers: () => ({}) });

/** Task results by step (the accuracy the "evaluator" reports for that step's checkpoint). */
function scripted(store: CheckpointStore, jobId: string, accByStep: Record<number, number>, asked: { version: number; step: number }[]): TaskEvaluation {
  return {
    taskNames: ['arith'],
    async evaluate(at) {
      // The checkpoint exists in the store before the evaluator is asked for it.
      assert.ok(store.list(jobId).includes(at.version), `v${at.version} is in the store when evaluated`);
      asked.push(at);
      return { 'arith/acc': accByStep[at.step]!, 'arith/acc_norm': 0.5 };
    },
  };
}

test('task metrics are measured on the step\'s checkpoint, mark the best after the fact, and survive keep_last and a resume', async () => {
  const store = CheckpointStore.open(join(root, 'store'));
  const spec = create(JobSpecSchema, { algorithm: Algorithm.SFT, evaluation: { everyNSteps: 2n, tasks: [{ kind: { case: 'name', value: 'arith' } }], bestMetric: 'arith/acc' }, checkpoints: { keepLast: 1, everyNSteps: 1n } });
  const job = create(JobSchema, { id: 'job-a', spec });
  const events: JobEvent[] = [];
  const asked: { version: number; step: number }[] = [];
  const ctx = context(job, store, events);
  const points = new JobPoints(ctx, { store, model, algorithm: 'SFT', seed: 1, shuffle: true, tasks: scripted(store, job.id, { 2: 0.6, 4: 0.4, 6: 0.5 }, asked) });
  // Step metric "arith/acc" in latest metrics must not be judged at plain checkpoints (steps 1, 3, 5).
  job.latestMetrics = { 'arith/acc': 0.99 };
  for (let s = 1; s <= 6; s++) await points.after(point(s), { boundary: s === 6 });

  assert.deepEqual(asked.map((a) => a.step), [2, 4, 6]);
  // Every step checkpoints (every_n_steps 1); the evaluation steps were saved once, before their tasks.
  assert.deepEqual(asked.map((a) => a.version), [2, 4, 6]);
  const evals = events.flatMap((e) => (e.case === 'evaluation' ? [e.value] : []));
  assert.deepEqual(evals.map((e) => [e.step, e.newBest, e.metrics!['arith/acc']]), [[2n, true, 0.6], [4n, false, 0.4], [6n, false, 0.5]]);
  assert.equal(job.bestCheckpoint?.version, 2n, 'the step-2 checkpoint is the best');
  assert.equal(job.bestCheckpoint?.best, true);
  assert.equal(job.bestCheckpoint?.metrics['arith/acc'], 0.6);
  assert.deepEqual(store.list(job.id), [2, 6], 'keep_last 1 keeps the last and the best');
  // The step-2 checkpoint's trainer state was written before the tasks ran: it holds no best yet.
  assert.equal(readTrainerState(store, job.id, 2).state.best, undefined);

  // A resume (from the best version, say) compares against 0.6 at v2, not against the stale record.
  const resumedEvents: JobEvent[] = [];
  const resumed = new JobPoints(context(job, store, resumedEvents), { store, model, algorithm: 'SFT', seed: 1, shuffle: true, tasks: scripted(store, job.id, { 8: 0.55, 10: 0.7 }, asked), best: readTrainerState(store, job.id, 2).state.best });
  await resumed.after(point(8), { boundary: false });
  await resumed.after(point(10), { boundary: true });
  const again = resumedEvents.flatMap((e) => (e.case === 'evaluation' ? [[e.value.step, e.value.newBest]] : []));
  assert.deepEqual(again, [[8n, false], [10n, true]], '0.55 does not beat the earlier 0.6; 0.7 does');
  assert.equal(job.bestCheckpoint?.step, 10n);
});
