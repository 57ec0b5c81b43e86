// Running tasks: load documents, apply limit and overrides, dispatch on the kind, assemble the
// TaskResult (metrics filtered by task.metrics, non-finite stderr dropped, hashes, duration).
import { clone, create, isMessage, toJson, type MessageInitShape } from '@bufbuild/protobuf';
import { TaskDefinitionSchema, TaskKind, TaskResultSchema, type TaskDefinition, type TaskResult } from '@juice/proto';
import type { EvalModel, RewardScorer } from './model.js';
import { loadTaskData, sha256Json, type TaskData } from './task-data.js';
import { KIND_METRICS, type KindContext, type KindOutput } from './tasks/kind.js';
import { runGenerateMatch } from './tasks/generate-match.js';
import { runMultipleChoice } from './tasks/multiple-choice.js';
import { runPerplexity } from './tasks/perplexity.js';
import { runRewardWinRate } from './tasks/reward-win-rate.js';
import { TaskView } from './tasks/view.js';

export type TaskDefinitionInit = MessageInitShape<typeof TaskDefinitionSchema>;

/** lm-eval's default seed, used when the request's seed is 0. */
export const DEFAULT_SEED = 1234n;
export const DEFAULT_BATCH_SIZE = 16;

export interface RunTaskOptions {
  /** Documents (the first N after the split). 0/unset = all. */
  limit?: number;
  /** Requests per model call. 0/unset = 16. */
  batchSize?: number;
  /** Few-shot selection, sampling and bootstrap seed. 0/unset = 1234. */
  seed?: bigint | number;
  /** Per-document records kept, 0/unset = none. */
  logSamples?: number;
  /** Overrides task.num_fewshot (TaskSelector.num_fewshot). */
  numFewshot?: number;
  /** Required by REWARD_WIN_RATE tasks. */
  rewardScorer?: RewardScorer;
  signal?: AbortSignal;
  onProgress?(done: number, total: number): void;
  /** Documents already loaded (else read from task.dataset). */
  data?: TaskData;
}

const NAME = /^[a-z0-9_.-]{1,64}$/;

function definitionOf(task: TaskDefinition | TaskDefinitionInit, numFewshot: number | undefined): TaskDefinition {
  // create() returns a message argument itself; clone so overrides never touch the caller's task.
  const def = isMessage(task, TaskDefinitionSchema) ? clone(TaskDefinitionSchema, task) : create(TaskDefinitionSchema, task);
  if (numFewshot !== undefined) def.numFewshot = numFewshot;
  if (!NAME.test(def.name)) throw new Error(`task.name: must match [a-z0-9_.-]{1,64}, got ${JSON.stringify(def.name)}`);
  if (!(def.kind in KIND_METRICS) || def.kind === TaskKind.UNSPECIFIED)
    throw new Error(`task.kind: task "${def.name}" needs PERPLEXITY, MULTIPLE_CHOICE, GENERATE_MATCH or REWARD_WIN_RATE`);
  const known = KIND_METRICS[def.kind];
  const unknown = def.metrics.filter((m) => !known.includes(m));
  if (unknown.length > 0) throw new Error(`task.metrics: ${unknown.join(', ')} not reported by ${TaskKind[def.kind]} tasks; valid: ${known.join(', ')}`);
  return def;
}

/** SHA-256 of the task definition as canonical proto JSON (defaults omitted, keys sorted). */
export function taskSha256(task: TaskDefinition): string {
  return sha256Json(toJson(TaskDefinitionSchema, task));
}

const RUNNERS: Record<Exclude<TaskKind, TaskKind.UNSPECIFIED>, (ctx: KindContext) => Promise<KindOutput>> = {
  [TaskKind.PERPLEXITY]: runPerplexity,
  [TaskKind.MULTIPLE_CHOICE]: runMultipleChoice,
  [TaskKind.GENERATE_MATCH]: runGenerateMatch,
  [TaskKind.REWARD_WIN_RATE]: runRewardWinRate,
};

export async function runTask(task: TaskDefinition | TaskDefinitionInit, model: EvalModel, opts: RunTaskOptions = {}): Promise<TaskResult> {
  const started = performance.now();
  const def = definitionOf(task, opts.numFewshot);
  const seed = opts.seed === undefined || BigInt(opts.seed) === 0n ? DEFAULT_SEED : BigInt(opts.seed);
  const batchSize = opts.batchSize && opts.batchSize > 0 ? Math.floor(opts.batchSize) : DEFAULT_BATCH_SIZE;
  opts.signal?.throwIfAborted();
  const data = opts.data ?? (await loadTaskData(def));
  const limit = opts.limit && opts.limit > 0 ? opts.limit : data.docs.length;
  const docs = data.docs.slice(0, limit);
  if (docs.length === 0) throw new Error(`task "${def.name}": no documents in ${def.dataset?.path ?? 'the data'} after split ${JSON.stringify(def.dataset?.split ?? '')}`);
  const view = new TaskView(def, data, seed);
  const total = docs.length;
  opts.onProgress?.(0, total);

  // Loglikelihood kinds get no version from the model per call; bracket the task with info().
  const before = await model.info();
  const out = await RUNNERS[def.kind as Exclude<TaskKind, TaskKind.UNSPECIFIED>]({
    view,
    docs,
    model,
    rewardScorer: opts.rewardScorer,
    batchSize,
    logSamples: Math.max(0, opts.logSamples ?? 0),
    seed,
    signal: opts.signal,
    progress: (done) => opts.onProgress?.(done, total),
  });
  const versions = out.weightVersions.length > 0 ? out.weightVersions : [before.weightVersion, (await model.info()).weightVersion];

  const wanted = def.metrics.length > 0 ? def.metrics : KIND_METRICS[def.kind];
  const metrics: Record<string, number> = {};
  const stderr: Record<string, number> = {};
  for (const m of wanted) {
    metrics[m] = out.metrics[m]!;
    // n < 2 has no standard error; leave it out rather than report NaN.
    const se = out.stderr[m];
    if (se !== undefined && Number.isFinite(se)) stderr[m] = se;
  }
  const ms = performance.now() - started;
  return create(TaskResultSchema, {
    task: def.name,
    kind: def.kind,
    metrics,
    stderr,
    numDocs: BigInt(total),
    numFewshot: view.numFewshot,
    duration: { seconds: BigInt(Math.floor(ms / 1000)), nanos: Math.round((ms % 1000) * 1e6) },
    taskSha256: taskSha256(def),
    dataSha256: data.sha256,
    weightVersions: [...new Set(versions)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
    samples: out.samples,
  });
}

/** A task of a run with its TaskSelector overrides. */
export interface TaskEntry {
  task: TaskDefinition | TaskDefinitionInit;
  /** Overrides the run limit; 0/unset = the run's. */
  limit?: number;
  numFewshot?: number;
  data?: TaskData;
}

export interface RunProgressEvent {
  task: string;
  taskIndex: number;
  docsDone: number;
  docsTotal: number;
  /** Fraction of the whole run, [0, 1]. */
  fraction: number;
}

export interface RunEvaluationOptions extends Omit<RunTaskOptions, 'onProgress' | 'data' | 'numFewshot'> {
  onProgress?(p: RunProgressEvent): void;
  onTaskResult?(result: TaskResult, taskIndex: number): void;
}

function isEntry(t: TaskEntry | TaskDefinition | TaskDefinitionInit): t is TaskEntry {
  return typeof t === 'object' && t !== null && 'task' in t && typeof (t as { task: unknown }).task === 'object';
}

/** Runs tasks in order; the first failure (or cancellation) rejects with the task named. */
export async function runEvaluation(
  tasks: readonly (TaskEntry | TaskDefinition | TaskDefinitionInit)[],
  model: EvalModel,
  opts: RunEvaluationOptions = {},
): Promise<TaskResult[]> {
  const results: TaskResult[] = [];
  for (let i = 0; i < tasks.length; i++) {
    const t = tasks[i]!;
    const entry: TaskEntry = isEntry(t) ? t : { task: t };
    const name = entry.task.name ?? `#${i}`;
    const { onProgress, onTaskResult, ...rest } = opts;
    try {
      const result = await runTask(entry.task, model, {
        ...rest,
        limit: entry.limit && entry.limit > 0 ? entry.limit : opts.limit,
        ...(entry.numFewshot !== undefined ? { numFewshot: entry.numFewshot } : {}),
        ...(entry.data ? { data: entry.data } : {}),
        onProgress: (done, total) =>
          onProgress?.({ task: name, taskIndex: i, docsDone: done, docsTotal: total, fraction: (i + (total > 0 ? done / total : 0)) / tasks.length }),
      });
      results.push(result);
      onTaskResult?.(result, i);
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      throw new Error(`task "${name}" (${i + 1}/${tasks.length}): ${(e as Error).message}`, { cause: e });
    }
  }
  return results;
}
