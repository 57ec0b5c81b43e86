// EvalConfig.tasks at StartJob (validate_only and a real start alike): tasks need an evaluator
// (spec.endpoints.evaluator or the trainer's --evaluator), else FAILED_PRECONDITION naming
// spec.endpoints.evaluator; bad selectors are INVALID_ARGUMENT naming the selector; limit without tasks
// and tasks on a REWARD_MODEL job are refused. A job whose evaluator cannot be reached fails at its first
// evaluation point with the peer's status after the retries, not INTERNAL. best_metric may name a task's
// metric ("<task>/<metric>"); it is then judged at evaluation points only.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { createDefaultModel, DEFAULT_MODEL_CONFIG } from '@juice/models';
import { Algorithm, DataSchema, JobSpecSchema, JobState, StartJobRequestSchema, StartJobResponseSchema, TaskKind } from '@juice/proto';
import { JobManager } from '../src/job-manager.js';
import { JobStore } from '../src/job-store.js';
import { bestSelectionOf, isEvaluationMetric } from '../src/runners/best-metric.js';
import { sftRunner } from '../src/runners/sft-runner.js';
import { createTrainerService } from '../src/trainer-service.js';

type Spec = Extract<MessageInitShape<typeof JobSpecSchema>, { $typeName?: undefined }>;
type Tasks = NonNullable<NonNullable<Spec['evaluation']>['tasks']>;

const root = mkdtempSync(join(tmpdir(), 'juice-eval-tasks-'));
const quiet = { info() {}, warn() {}, error() {} };
const modelDir = join(root, 'model');
const data = join(root, 'demos.jsonl');
const rows = Array.from({ length: 8 }, (_, i) => ({ prompt: `Add ${i} and 3:`, completion: ` ${i + 3}` }));
const ctx = { signal: new AbortController().signal } as Parameters<NonNullable<ReturnType<typeof createTrainerService>['startJob']>>[1];
let bare: JobManager;
let withDefault: JobManager;

before(() => {
  writeFileSync(data, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const config = { ...DEFAULT_MODEL_CONFIG, hiddenSize: 32, intermediateSize: 64, numLayers: 1, numHeads: 2, numKvHeads: 1, headDim: 16 };
  createDefaultModel(modelDir, { corpus: rows.map((r) => r.prompt + r.completion), seed: 3, config });
  bare = new JobManager(new JobStore(join(root, 'a')), { [Algorithm.SFT]: sftRunner() }, quiet);
  // The default points at a port nobody listens on: StartJob only checks that one is configured.
  withDefault = new JobManager(new JobStore(join(root, 'b')), { [Algorithm.SFT]: sftRunner() }, quiet, { evaluator: '127.0.0.1:1' });
});
after(async () => {
  await Promise.all([bare.stopAll(), withDefault.stopAll()]);
});

const named = (...names: string[]): Tasks => names.map((n) => ({ kind: { case: 'name' as const, value: n } }));
const sftSpec = (rest: Partial<Spec> = {}): Spec => ({
  algorithm: Algorithm.SFT,
  model: { kind: { case: 'hfDir', value: modelDir } },
  datasets: [{ path: data, schema: DataSchema.PROMPT_COMPLETION }],
  hyperparameters: { maxSteps: 2n, batchSize: 4, learningRate: 1e-2 },
  ...rest,
});

async function startJob(m: JobManager, spec: Spec, validateOnly: boolean) {
  return create(StartJobResponseSchema, await createTrainerService(m).startJob!(create(StartJobRequestSchema, { spec, validateOnly }), ctx)).job!;
}

async function refused(m: JobManager, spec: Spec, code: number, field: string) {
  for (const validateOnly of [true, false]) {
    await assert.rejects(startJob(m, spec, validateOnly), (e: Error & { code?: number }) => {
      assert.equal(e.code, code, `${field}: ${e.message}`);
      assert.ok(e.message.includes(field), `names ${field}: ${e.message}`);
      return true;
    });
  }
}

test('tasks without any evaluator: FAILED_PRECONDITION naming spec.endpoints.evaluator', async () => {
  await refused(bare, sftSpec({ evaluation: { tasks: named('arith') } }), 9, 'spec.endpoints.evaluator');
});

test('tasks with spec.endpoints.evaluator or the trainer default pass validation', async () => {
  const ok = await startJob(bare, sftSpec({ evaluation: { tasks: named('arith'), limit: 5 }, endpoints: { evaluator: '127.0.0.1:1' } }), true);
  assert.equal(ok.spec?.evaluation?.limit, 5);
  await startJob(withDefault, sftSpec({ evaluation: { tasks: named('arith', 'other') } }), true);
  // An evaluator address without tasks names a peer the job does not need: accepted.
  await startJob(bare, sftSpec({ endpoints: { evaluator: '127.0.0.1:1' } }), true);
});

test('bad task selectors, limit without tasks and tasks on a reward model are INVALID_ARGUMENT naming the field', async () => {
  await refused(withDefault, sftSpec({ evaluation: { tasks: named('arith', 'arith') } }), 3, 'spec.evaluation.tasks[1]');
  await refused(withDefault, sftSpec({ evaluation: { tasks: [{ kind: { case: undefined } }] } }), 3, 'spec.evaluation.tasks[0]');
  await refused(withDefault, sftSpec({ evaluation: { tasks: named('') } }), 3, 'spec.evaluation.tasks[0].name');
  await refused(withDefault, sftSpec({ evaluation: { tasks: [{ kind: { case: 'definition', value: { name: 'Bad Name', kind: TaskKind.PERPLEXITY, dataset: { path: data } } } }] } }), 3, 'spec.evaluation.tasks[0].definition.name');
  await refused(withDefault, sftSpec({ evaluation: { tasks: [{ kind: { case: 'name', value: 'arith' }, numFewshot: 99 }] } }), 3, 'spec.evaluation.tasks[0].num_fewshot');
  await refused(withDefault, sftSpec({ evaluation: { limit: 3 } }), 3, 'spec.evaluation.limit');
  await refused(withDefault, { algorithm: Algorithm.REWARD_MODEL, datasets: [{ path: data, schema: DataSchema.PREFERENCE }], evaluation: { tasks: named('arith') } }, 3, 'spec.evaluation.tasks');
});

test('an unreachable evaluator fails the job at its first evaluation point with UNAVAILABLE, retryable', async () => {
  const job = await startJob(withDefault, sftSpec({ evaluation: { tasks: named('arith') } }), false);
  for await (const _ of withDefault.watch(withDefault.get(job.id)!, { fromBeginning: true, afterSequence: 0n, omitLogs: true, signal: new AbortController().signal }));
  const done = withDefault.get(job.id)!;
  assert.equal(done.state, JobState.FAILED);
  assert.equal(done.error?.code, 'UNAVAILABLE', done.error?.message);
  assert.equal(done.error?.retryable, true);
  assert.match(done.error!.message, /the evaluator at 127\.0\.0\.1:1 \(spec\.evaluation\.tasks on checkpoint v1\)/);
  assert.match(done.error!.message, /after 4 attempts/);
  // The checkpoint the evaluator was asked for was written before the call.
  assert.equal(done.lastCheckpoint?.version, 1n);
  assert.equal(done.lastCheckpoint?.step, 2n);
});

test('best_metric may name an evaluator task metric, judged at evaluation points', () => {
  const spec = create(JobSpecSchema, sftSpec({ evaluation: { tasks: named('arith', 'ppl'), bestMetric: 'arith/acc' } }));
  assert.deepEqual(bestSelectionOf(spec), { metric: 'arith/acc', goal: 'maximize' });
  assert.ok(isEvaluationMetric('arith/acc', spec));
  assert.ok(isEvaluationMetric('ppl/perplexity', spec));
  assert.ok(isEvaluationMetric('eval/loss', spec));
  assert.ok(!isEvaluationMetric('loss', spec));
  assert.ok(!isEvaluationMetric('reward/accuracy', spec), 'a step metric that merely has a slash');
  spec.evaluation!.bestMetric = 'ppl/perplexity';
  assert.equal(bestSelectionOf(spec)?.goal, 'minimize');
});
