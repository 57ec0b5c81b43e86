// Evaluating one arm's checkpoint through the evaluator. Preferred: the evaluator loads the checkpoint
// itself (target.model). An evaluator that cannot yet (UNIMPLEMENTED) is answered by serving the
// checkpoint on the run's generator and evaluating that live endpoint (target.generator_address, pinned
// to the pushed version); the result says which path measured it.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromJson, type JsonValue, type MessageInitShape } from '@bufbuild/protobuf';
import { EvaluatorService, RunState, TaskDefinitionSchema, type EvalTargetSchema, type TaskDefinition, type TaskResult } from '@juice/proto';
import { ServiceError, status, type createClient } from '@juice/service-kit';
import { Progress } from '../progress.js';
import type { GeneratorClient } from './weights.js';

export type EvaluatorClient = ReturnType<typeof createClient<typeof EvaluatorService>>;
export type EvalPath = 'model' | 'generator';

export interface MetricValue {
  value: number;
  stderr?: number;
}

export interface ArmEvaluation {
  /** "<task>/<metric>" → value. */
  metrics: Record<string, MetricValue>;
  via: EvalPath;
  runId: string;
  seconds: number;
}

/** Task definitions from a directory of protobuf-JSON files (relative dataset paths from the file's directory). */
export function loadTaskFiles(dir: string): TaskDefinition[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const t = fromJson(TaskDefinitionSchema, JSON.parse(readFileSync(join(dir, f), 'utf8')) as JsonValue);
      if (t.dataset && !t.dataset.path.startsWith('/')) t.dataset.path = join(dir, t.dataset.path);
      return t;
    });
}

/** Held-out NLL / perplexity of the responses of a CHAT (or prompt-completion) file. */
export function heldoutPerplexityTask(path: string, schema: number): TaskDefinition {
  return fromJson(TaskDefinitionSchema, {
    name: 'heldout_ppl',
    kind: 'TASK_KIND_PERPLEXITY',
    description: 'Held-out demonstrations: NLL of the response given the prompt',
    dataset: { path, format: path.endsWith('.parquet') ? 'DATA_FORMAT_PARQUET' : 'DATA_FORMAT_JSONL', schema: schema === 2 ? 'DATA_SCHEMA_PROMPT_COMPLETION' : 'DATA_SCHEMA_CHAT' },
  });
}

export interface EvalContext {
  evaluator: EvaluatorClient;
  /** Serves the checkpoints (pushed by the pipeline) when the evaluator cannot load them itself. */
  generator: GeneratorClient;
  generatorAddress: string;
  tasks: TaskDefinition[];
  limit: number;
  batchSize: number;
  seed: number;
  /** Sticky: once the evaluator said it cannot load models, later arms go straight to the generator. */
  path: EvalPath;
  /** No fallback: an evaluator that cannot load models fails the run. */
  strict?: boolean;
  /** Why the generator path is used (the evaluator's UNIMPLEMENTED message). */
  fallbackReason?: string;
}

const isUnimplemented = (code: string | number | undefined) => code === status.UNIMPLEMENTED || code === 'UNIMPLEMENTED';

async function runOnce(ctx: EvalContext, arm: string, target: MessageInitShape<typeof EvalTargetSchema>): Promise<{ results: TaskResult[]; runId: string }> {
  const { runId } = await ctx.evaluator.evaluate({
    target,
    tasks: ctx.tasks.map((t) => ({ kind: { case: 'definition', value: t } })),
    limit: ctx.limit,
    batchSize: ctx.batchSize,
    seed: BigInt(ctx.seed),
    name: `juice-run ${arm}`,
    labels: { pipeline: 'juice-run', arm },
  });
  const bar = new Progress(`eval ${arm}`.padEnd(8));
  let state = RunState.UNSPECIFIED;
  let error: { code: string; message: string } | undefined;
  for await (const e of ctx.evaluator.watchRun({ runId, fromBeginning: true })) {
    if (e.event.case === 'progress') bar.update(e.event.value.fraction, `${e.event.value.task} ${e.event.value.docsDone}/${e.event.value.docsTotal}`);
    else if (e.event.case === 'state') state = e.event.value;
    else if (e.event.case === 'error') error = { code: e.event.value.code, message: e.event.value.message };
  }
  bar.done(RunState[state]);
  if (state !== RunState.SUCCEEDED) throw Object.assign(new Error(`evaluation of ${arm} ended ${RunState[state]}${error ? `: ${error.code}: ${error.message}` : ''}`), { grpcCode: error?.code });
  const report = await ctx.evaluator.getReport({ runId });
  return { results: report.results, runId };
}

/** `servedVersion`: the generator's weight version that holds this checkpoint (the pipeline pushed it). */
export async function evaluateCheckpoint(ctx: EvalContext, arm: string, checkpoint: string, servedVersion: bigint): Promise<ArmEvaluation> {
  const t0 = performance.now();
  let out: { results: TaskResult[]; runId: string } | undefined;
  if (ctx.path === 'model') {
    try {
      out = await runOnce(ctx, arm, { kind: { case: 'model', value: { kind: { case: 'hfDir', value: checkpoint } } } });
    } catch (e) {
      const code = e instanceof ServiceError ? e.code : (e as { grpcCode?: string }).grpcCode;
      if (!isUnimplemented(code) || ctx.strict) throw e;
      ctx.path = 'generator';
      ctx.fallbackReason = (e as Error).message;
    }
  }
  const via = ctx.path;
  out ??= await runOnce(ctx, arm, { kind: { case: 'generatorAddress', value: ctx.generatorAddress }, minWeightVersion: servedVersion });
  const metrics: Record<string, MetricValue> = {};
  for (const r of out.results)
    for (const [m, v] of Object.entries(r.metrics)) metrics[`${r.task}/${m}`] = { value: v, ...(r.stderr[m] !== undefined ? { stderr: r.stderr[m] } : {}) };
  return { metrics, via, runId: out.runId, seconds: (performance.now() - t0) / 1000 };
}
