// The trainer's side of in-loop evaluation against a scripted EvaluatorService (in process, real gRPC):
// the request it sends (target = the job's checkpoint by reference, tasks, limit, labels), metrics named
// "<task>/<metric>" from the report, a run that fails with a transient status run again, a run that
// fails for good failing with the evaluator's status, and a stopping job cancelling the run it waits for.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { Algorithm, EvaluatorService, JobSchema, RunState, StatusError, type EvaluateRequest, type EvaluatorService as EvaluatorDesc, type Job } from '@juice/proto';
import { createLogger, startServer, type RunningServer, type ServiceImpl } from '@juice/service-kit';
import type { JobEvent, RunContext } from '../src/job-manager.js';
import { taskEvaluation } from '../src/pipeline/evaluator-tasks.js';

/** What each Evaluate call's run does, in call order. */
type Script = { fail?: { code: string; retryable: boolean }; hang?: boolean }[];
let script: Script = [];
const requests: EvaluateRequest[] = [];
const cancelled: string[] = [];
let server: RunningServer;

const impl: Partial<ServiceImpl<typeof EvaluatorDesc>> = {
  async evaluate(req) {
    requests.push(req);
    return { runId: `run-${requests.length}` };
  },
  async *watchRun(req, ctx) {
    const plan = script[Number(req.runId.slice(4)) - 1] ?? {};
    yield { sequence: 1n, runId: req.runId, event: { case: 'state', value: RunState.RUNNING } };
    if (plan.hang) {
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
      return;
    }
    if (plan.fail) yield { sequence: 2n, runId: req.runId, event: { case: 'error', value: { code: plan.fail.code, message: 'the task data is unreadable', retryable: plan.fail.retryable } } };
    yield { sequence: 3n, runId: req.runId, event: { case: 'state', value: plan.fail ? RunState.FAILED : RunState.SUCCEEDED } };
  },
  async getReport(req) {
    return {
      run: { runId: req.runId },
      results: [
        { task: 'arith', metrics: { acc: 0.75, acc_norm: 0.5 } as Record<string, number> },
        { task: 'ppl', metrics: { perplexity: 12.5 } as Record<string, number> },
      ],
    };
  },
  async cancelRun(req) {
    cancelled.push(req.runId);
    return { run: { runId: req.runId } };
  },
};

before(async () => {
  server = await startServer({ name: 'fake-evaluator', services: [{ desc: EvaluatorService, impl }], host: '127.0.0.1', port: 0, log: createLogger('fake-evaluator', 'error', (line) => void process.stderr.write(`${line}\n`)) });
});
after(async () => {
  await server.shutdown(0);
});

function context(abort = new AbortController()): { ctx: RunContext; events: JobEvent[]; job: Job } {
  const job = create(JobSchema, {
    id: 'job-7',
    spec: { algorithm: Algorithm.SFT, endpoints: { evaluator: server.address }, evaluation: { tasks: [{ kind: { case: 'name', value: 'arith' } }, { kind: { case: 'name', value: 'ppl' } }], limit: 3 } },
  });
  const events: JobEvent[] = [];
  return { job, events, ctx: { job, checkpoints: undefined as never, jobDir: '', resuming: false, signal: abort.signal, emit: (e) => void events.push(e), save() {} } };
}

test('the checkpoint by reference, the tasks and limit go to Evaluate; metrics come back as <task>/<metric>', async () => {
  script = [{}];
  requests.length = 0;
  const { ctx } = context();
  const metrics = await taskEvaluation(ctx, 'trainer.sft')!.evaluate({ version: 4, step: 20 });
  assert.deepEqual(metrics, { 'arith/acc': 0.75, 'arith/acc_norm': 0.5, 'ppl/perplexity': 12.5 });
  const req = requests[0]!;
  assert.equal(req.target?.kind.case, 'model');
  const source = req.target?.kind.case === 'model' ? req.target.kind.value.kind : undefined;
  assert.equal(source?.case, 'checkpoint');
  assert.deepEqual(source?.case === 'checkpoint' ? [source.value.jobId, source.value.version, source.value.best] : [], ['job-7', 4n, false]);
  assert.deepEqual(req.tasks.map((t) => t.kind.value), ['arith', 'ppl']);
  assert.equal(req.limit, 3);
  assert.deepEqual(req.labels, { job_id: 'job-7', step: '20', checkpoint_version: '4' });
});

test('a run failing with a transient status is run again; a lasting failure keeps the evaluator\'s status', async () => {
  script = [{ fail: { code: 'UNAVAILABLE', retryable: true } }, {}];
  requests.length = 0;
  const { ctx, events } = context();
  const metrics = await taskEvaluation(ctx, 'trainer.sft')!.evaluate({ version: 1, step: 5 });
  assert.equal(metrics['arith/acc'], 0.75);
  assert.equal(requests.length, 2, 'a second run after the transient failure');
  assert.ok(events.some((e) => e.case === 'log' && /in-loop evaluation failed .*retry 1/.test(e.value.message!)), 'the retry is in the job log');

  script = [{ fail: { code: 'INVALID_ARGUMENT', retryable: false } }];
  requests.length = 0;
  await assert.rejects(taskEvaluation(context().ctx, 'trainer.sft')!.evaluate({ version: 2, step: 10 }), (e: unknown) => {
    assert.ok(e instanceof StatusError, String(e));
    assert.equal(e.grpcCode, 'INVALID_ARGUMENT');
    assert.equal(e.retryable, false);
    assert.match(e.message, /evaluator run run-1 on checkpoint v2 failed: INVALID_ARGUMENT: the task data is unreadable/);
    return true;
  });
  assert.equal(requests.length, 1, 'not retried');
});

test('a stopping job cancels the run it waits for', async () => {
  script = [{ hang: true }];
  requests.length = 0;
  cancelled.length = 0;
  const abort = new AbortController();
  const pending = taskEvaluation(context(abort).ctx, 'trainer.sft')!.evaluate({ version: 3, step: 15 });
  while (requests.length === 0) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 50));
  abort.abort(new Error('cancelled by client'));
  await assert.rejects(pending);
  assert.deepEqual(cancelled, ['run-1']);
});
