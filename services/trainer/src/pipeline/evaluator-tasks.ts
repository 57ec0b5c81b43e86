// In-loop evaluation through the evaluator service (EvalConfig.tasks). At each evaluation point the job's
// checkpoint of that step is evaluated by the evaluator, which loads it by reference (target.model =
// CheckpointRef) from the checkpoint store it shares with the trainer (`juice up` gives both the same
// --store). Each task's metrics become job metrics named "<task>/<metric>" (trainer.proto EvalConfig),
// so EvalConfig.best_metric can select the best checkpoint by them.
//
// The trainer waits for the run: the best checkpoint is decided by its results. One evaluation is one
// retried unit (Evaluate + WatchRun + GetReport): an evaluator that restarts or a run that fails with a
// transient status is run again, as calls to the other peers are (retry.ts); anything else fails the job
// with the evaluator's status. The run's deadline is spec.endpoints.call_timeout_seconds (0 = 600 s), and
// a stopping job cancels the run it waits for.
import { EvaluatorService, RunState, STATUS_CODES, StatusError, Violations, badField, preconditionFailed, validateTaskDefinition, Algorithm, type ErrorDetail, type JobSpec, type TaskSelector } from '@juice/proto';
import { createClient } from '@juice/service-kit';
import type { RunContext } from '../job-manager.js';
import { jobLog } from '../runners/job-log.js';
import { withRetry } from '../runners/retry.js';

/** The name a task's results carry: the registered name, or the inline definition's. */
export const taskNameOf = (t: TaskSelector): string => (t.kind.case === 'name' ? t.kind.value : t.kind.case === 'definition' ? t.kind.value.name : '');

/** spec.endpoints.evaluator, else the trainer's default (--evaluator); undefined when neither is set. */
export const evaluatorAddressOf = (spec: JobSpec, fallback?: string): string | undefined => spec.endpoints?.evaluator || fallback || undefined;

const NO_EVALUATOR = 'spec.endpoints.evaluator: evaluation.tasks need an evaluator: set spec.endpoints.evaluator or start the trainer with --evaluator (JUICE_EVALUATOR_ADDRESS)';

/**
 * StartJob's check of EvalConfig.tasks (validate_only too), so a job does not train for an hour before its
 * first evaluation point finds them unusable: the selectors themselves (INVALID_ARGUMENT naming the
 * field; the evaluator checks registered names when it runs them) and an evaluator to run them on
 * (FAILED_PRECONDITION naming spec.endpoints.evaluator). spec.endpoints.evaluator without tasks is
 * accepted: like a generator address on an SFT job, it names a peer this job does not need.
 */
export function checkEvaluationTasks(spec: JobSpec | undefined, defaultEvaluator: string | undefined): void {
  const tasks = spec?.evaluation?.tasks ?? [];
  // limit only bounds the evaluator's documents: alone it would be accepted and do nothing.
  if (tasks.length === 0 && (spec?.evaluation?.limit ?? 0) !== 0) throw badField('spec.evaluation.limit', 'applies to evaluation.tasks (documents per task); set tasks or leave it 0');
  if (!spec || tasks.length === 0) return;
  const field = 'spec.evaluation.tasks';
  const v = new Violations();
  v.count(field, tasks.length, 1, 64);
  if (spec.algorithm === Algorithm.REWARD_MODEL) v.add(field, 'evaluator tasks evaluate a policy (causal LM) checkpoint; a REWARD_MODEL job has none (leave tasks empty; eval_datasets give eval/loss)');
  const seen = new Set<string>();
  tasks.forEach((t, i) => {
    if (t.kind.case === undefined) v.add(`${field}[${i}]`, 'must set exactly one of name, definition');
    else if (t.kind.case === 'definition') validateTaskDefinition(v, `${field}[${i}].definition`, t.kind.value);
    else if (!t.kind.value) v.add(`${field}[${i}].name`, 'must name a task (ListTasks on the evaluator shows them)');
    if (t.numFewshot !== undefined) v.range(`${field}[${i}].num_fewshot`, t.numFewshot, 0, 32);
    const name = taskNameOf(t);
    // Metrics are named "<task>/<metric>": two tasks of one name would overwrite each other's.
    if (name && seen.has(name)) v.add(`${field}[${i}]`, `task "${name}" appears twice; its metrics would be ambiguous`);
    seen.add(name);
  });
  const first = v.list[0];
  if (first) throw badField(first.field, first.problem);
  if (!evaluatorAddressOf(spec, defaultEvaluator)) throw preconditionFailed(NO_EVALUATOR, false);
}

/**
 * What the evaluator evaluates at a point: the job's checkpoint, or for a LoRA job (whose checkpoint is a PEFT
 * adapter) the job's base model with that checkpoint as EvalTarget.adapter. The base's expected_sha256 is
 * dropped: with an adapter the evaluator compares it with the combined hash, and the trainer already checked
 * the base's when the job loaded it.
 */
function targetOf(spec: JobSpec, checkpoint: { jobId: string; version: bigint }) {
  const ref = { kind: { case: 'checkpoint' as const, value: checkpoint } };
  if ((spec.hyperparameters?.lora?.rank ?? 0) === 0 || !spec.model) return { kind: { case: 'model' as const, value: ref } };
  return { kind: { case: 'model' as const, value: { kind: spec.model.kind } }, adapter: ref };
}

/** Evaluates one checkpoint version of the running job on EvalConfig.tasks; resolves to "<task>/<metric>" values. */
export interface TaskEvaluation {
  readonly taskNames: readonly string[];
  evaluate(at: { version: number; step: number }): Promise<Record<string, number>>;
}

/** The job's task evaluation, or undefined when EvalConfig.tasks is empty. */
export function taskEvaluation(ctx: RunContext, logger: string): TaskEvaluation | undefined {
  const spec = ctx.job.spec!;
  const tasks = spec.evaluation?.tasks ?? [];
  if (tasks.length === 0) return undefined;
  const address = evaluatorAddressOf(spec, ctx.evaluator);
  // A job resumed on a trainer started without --evaluator: the same refusal StartJob gives.
  if (!address) throw preconditionFailed(NO_EVALUATOR, true);
  const deadlineMs = (spec.endpoints?.callTimeoutSeconds || 600) * 1000;
  const taskNames = tasks.map(taskNameOf);
  return {
    taskNames,
    evaluate: ({ version, step }) =>
      withRetry(
        'in-loop evaluation',
        (attempt) => runOnce(ctx, address, { version, step, attempt, deadlineMs }),
        {
          attempts: 4,
          signal: ctx.signal,
          onRetry: ({ what, attempt, delayMs, error }) => jobLog(ctx, 'warn', logger, `${what} failed (${error.message}); retry ${attempt} in ${delayMs} ms`, { step, attempt, delay_ms: delayMs }),
        },
      ),
  };
}

/** The run's ErrorDetail as a status: its code by name, and retryable as the evaluator said. */
function runError(runId: string, version: number, e: ErrorDetail | undefined): StatusError {
  const name = e?.code && e.code in STATUS_CODES ? (e.code as keyof typeof STATUS_CODES) : 'UNKNOWN';
  return new StatusError(name, `evaluator run ${runId} on checkpoint v${version} failed: ${e?.code ?? 'UNKNOWN'}: ${e?.message ?? 'no error reported'}`, e ? { retryable: e.retryable } : {});
}

async function runOnce(ctx: RunContext, address: string, o: { version: number; step: number; attempt: number; deadlineMs: number }): Promise<Record<string, number>> {
  const spec = ctx.job.spec!;
  const jobId = ctx.job.id;
  const client = createClient(EvaluatorService, address, { channelOptions: { 'grpc.initial_reconnect_backoff_ms': 200, 'grpc.max_reconnect_backoff_ms': 2000 } });
  // One deadline for the whole run (Evaluate, the watch, the report), cut short by the job's stop.
  const deadline = AbortSignal.timeout(o.deadlineMs);
  const signal = AbortSignal.any([ctx.signal, deadline]);
  let runId = '';
  try {
    const started = await client.evaluate(
      {
        target: targetOf(spec, { jobId, version: BigInt(o.version) }),
        tasks: spec.evaluation!.tasks,
        limit: spec.evaluation!.limit,
        // The job id, not spec.name: a 128-byte job name plus the step would exceed the run name's limit.
        name: `${jobId} step ${o.step}`,
        labels: { job_id: jobId, step: String(o.step), checkpoint_version: String(o.version) },
      },
      { signal, deadlineMs: o.deadlineMs },
    );
    runId = started.runId;
    let state = started.run?.state ?? RunState.UNSPECIFIED;
    let error: ErrorDetail | undefined;
    for await (const e of client.watchRun({ runId, fromBeginning: true }, { signal })) {
      if (e.event.case === 'state') state = e.event.value;
      else if (e.event.case === 'error') error = e.event.value;
    }
    if (state === RunState.FAILED) throw runError(runId, o.version, error);
    if (state === RunState.CANCELLED) throw new StatusError('ABORTED', `evaluator run ${runId} on checkpoint v${o.version} was cancelled on the evaluator`);
    if (state !== RunState.SUCCEEDED) throw new StatusError('UNAVAILABLE', `the evaluator's watch of run ${runId} ended while the run was ${RunState[state]}`);
    const report = await client.getReport({ runId }, { signal, deadlineMs: o.deadlineMs });
    const metrics: Record<string, number> = {};
    for (const r of report.results) for (const [m, value] of Object.entries(r.metrics)) metrics[`${r.task}/${m}`] = value;
    return metrics;
  } catch (e) {
    // A stopping job or an expired deadline leaves no run computing on the evaluator.
    if (runId && signal.aborted) await client.cancelRun({ runId }, { deadlineMs: 5000 }).catch(() => undefined);
    if (deadline.aborted && !ctx.signal.aborted) throw new StatusError('DEADLINE_EXCEEDED', `evaluator run ${runId || '(not started)'} on checkpoint v${o.version} took longer than spec.endpoints.call_timeout_seconds (${o.deadlineMs / 1000} s)`);
    // The evaluator's refusal keeps its status; the message says which call it answered (its field
    // names, e.g. tasks[0], are those of spec.evaluation).
    if (!ctx.signal.aborted && e instanceof Error && !(e instanceof StatusError && e.message.startsWith('evaluator run '))) e.message = `the evaluator at ${address} (spec.evaluation.tasks on checkpoint v${o.version}): ${e.message}`;
    throw e;
  } finally {
    client.close();
  }
}
