// The one preparation step every algorithm's job runs before its loop: read the training and held-out
// rows, resolve the model (HF directory, another job's checkpoint, or the embedded default built from
// the job's own text), the truncation limits, where a resumed job continues (restoring the checkpoint's
// weights), and the JobPoints that evaluate and checkpoint it. Runners differ only in what they do with
// the result: their settings (settings/<algorithm>.ts), their loop and their peers.
import type { CheckpointStore } from '@juice/checkpoint';
import type { LoadedModel } from '@juice/models';
import type { ParamSet } from '@juice/optim';
import type { DatasetSpec, JobSpec, ModelSource } from '@juice/proto';
import type { RunContext } from '../job-manager.js';
import type { HeldOutEvaluator } from '../runners/held-out-eval.js';
import { badSpec } from '../runners/job-error.js';
import { JobPoints, type JobPointsOptions } from '../runners/job-points.js';
import { loraJob, type LoraJob } from '../runners/lora-job.js';
import { resolveModel } from '../runners/model-source.js';
import { resumePoint } from '../runners/resume-point.js';
import { restoreWeights, type RestoredTrainerState } from '../runners/trainer-state.js';
import { commonSettings, truncation } from '../settings/common.js';
import { taskEvaluation } from './evaluator-tasks.js';

export interface Preparation<Row> {
  /** Trainer-state name (SFT, DPO, IRFT, SPIN, RFT, REWARD_MODEL): a checkpoint of another algorithm is refused. */
  algorithm: string;
  /** Reads one dataset's rows. */
  load(d: DatasetSpec, o: { signal: AbortSignal }): Promise<Row[]>;
  /** The text the embedded default model's tokenizer is trained on. */
  corpus(rows: readonly Row[]): string[];
  /** spec.datasets selecting nothing: what is missing, e.g. "no demonstrations selected". */
  empty: string;
  /** The starting weights when they are not the model's own (a reward model: backbone + score head). */
  weights?(source: ModelSource | undefined, jobDir: string, corpus: () => string[], seed: number, store: CheckpointStore): { model: LoadedModel; params: ParamSet };
  /** Called with the initial weights before a resume overwrites them (e.g. to keep π_ref = the initial model). */
  beforeRestore?(model: LoadedModel): void;
  /** Whether the checkpoint's weights go into the model (default true; RFT restores its own buffers). */
  restoreWeights?: boolean;
}

export interface PreparedJob<Row> {
  spec: JobSpec;
  /** "trainer.<algorithm>", the job log's logger. */
  logger: string;
  store: CheckpointStore;
  seed: number;
  rows: Row[];
  evalRows: Row[];
  model: LoadedModel;
  /** The trained weights (model.params, or the reward weights). */
  params: ParamSet;
  limits: { maxLength: number; maxPromptLength: number };
  padTokenId: number;
  /** The checkpoint this attempt continues from (undefined: a fresh start). */
  restored?: RestoredTrainerState;
  /** TrainingHyperparameters.lora (rank > 0): the adapters trained on the frozen `params` (lora-job.ts). */
  lora?: LoraJob;
  /** Evaluation and checkpoint points of the job, with the held-out evaluator of the algorithm (if any). */
  points(evaluator?: HeldOutEvaluator, o?: { shuffle?: boolean; weights?: JobPointsOptions['weights'] }): JobPoints;
}

async function rowsOf<Row>(sets: readonly DatasetSpec[], p: Preparation<Row>, signal: AbortSignal): Promise<Row[]> {
  return (await Promise.all(sets.map((d) => p.load(d, { signal })))).flat();
}

export async function prepareJob<Row>(ctx: RunContext, p: Preparation<Row>): Promise<PreparedJob<Row>> {
  const spec = ctx.job.spec!;
  const store = ctx.checkpoints;
  const { seed, noShuffle } = commonSettings(spec);
  const rows = await rowsOf(spec.datasets, p, ctx.signal);
  if (rows.length === 0) throw badSpec('spec.datasets', p.empty);
  const corpus = () => p.corpus(rows);
  const { model, params } = p.weights ? p.weights(spec.model, ctx.jobDir, corpus, seed, store) : (() => {
    const m = resolveModel(spec.model, ctx.jobDir, corpus, seed, store);
    return { model: m, params: m.params };
  })();
  const limits = truncation(spec.hyperparameters, model.config.maxPositions);
  p.beforeRestore?.(model);
  const logger = `trainer.${p.algorithm.toLowerCase()}`;
  const restored = resumePoint(ctx, store, p.algorithm, logger);
  // A LoRA job's checkpoints hold the adapters (restored into lora.adapters); its base is never trained.
  // A reward model (p.weights) trains its score head with the adapters, on the reward weights' backbone.
  const lora = loraJob(spec, ctx.job.id, model, seed, restored, p.weights ? { params } : undefined);
  if (restored && p.restoreWeights !== false && !lora) restoreWeights(params, restored.checkpoint);
  const evalRows = await rowsOf(spec.evalDatasets, p, ctx.signal);
  // EvalConfig.tasks, run by the evaluator service on the job's checkpoints at its evaluation points.
  const tasks = taskEvaluation(ctx, logger);
  return {
    spec,
    logger,
    store,
    seed,
    rows,
    evalRows,
    model,
    params,
    limits,
    padTokenId: model.tokenizer.padTokenId ?? model.tokenizer.eosTokenIds[0] ?? 0,
    restored,
    lora,
    points: (evaluator, o = {}) => new JobPoints(ctx, { store, model, algorithm: p.algorithm, seed, shuffle: o.shuffle ?? !noShuffle, evaluator, tasks, best: restored?.state.best, weights: o.weights, lora }),
  };
}
