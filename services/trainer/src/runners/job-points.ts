// When a running job evaluates and checkpoints, shared by the runners. After every optimizer step the
// loop hands over its position; this decides:
//   evaluate   at EvalConfig.every_n_steps, at the end of each epoch/stage and of the job (and at_start):
//              the held-out eval_datasets in process, and EvalConfig.tasks on the evaluator service,
//              which loads this step's checkpoint (written first) from the shared store;
//   checkpoint at CheckpointConfig.every_n_steps, at the end of each epoch/stage and of the job, when an
//              evaluation made a new best, and when the job is being stopped (graceful shutdown/cancel);
// then saves weights + trainer state in one version, marks the best (EvalConfig.best_metric) and prunes
// to keep_last (the best is always kept).
import type { CheckpointStore } from '@juice/checkpoint';
import type { DataCursor } from '@juice/data';
import type { LoadedModel } from '@juice/models';
import type { OptimizerState, ParamSet } from '@juice/optim';
import type { RunContext } from '../job-manager.js';
import type { TaskEvaluation } from '../pipeline/evaluator-tasks.js';
import { BestTracker, bestSelectionOf, isEvaluationMetric } from './best-metric.js';
import type { HeldOutEvaluator } from './held-out-eval.js';
import { saveCheckpoint } from './save-checkpoint.js';
import { dataPositionOf, encodeTrainerState, type BestRecord, type StageSamples } from './trainer-state.js';

/** A loop's position after a step; the state thunks are only called when a checkpoint is written. */
export interface JobPoint {
  /** Optimizer steps completed in the job. */
  step: number;
  epoch: number;
  stage: number;
  /** Steps completed within the stage (= step for single-phase algorithms). */
  stageStep: number;
  cursor: DataCursor;
  optimizers: () => Record<string, OptimizerState>;
  buffers?: () => Record<string, Float32Array>;
  stageSamples?: StageSamples;
  tokens?: bigint;
  extra?: Record<string, unknown>;
  rngExtra?: Record<string, number>;
}

export interface JobPointsOptions {
  store: CheckpointStore;
  model: LoadedModel;
  algorithm: string;
  seed: number;
  shuffle: boolean;
  evaluator?: HeldOutEvaluator;
  /** EvalConfig.tasks on the evaluator service, run on the checkpoint of each evaluation point. */
  tasks?: TaskEvaluation;
  /** The best so far, from the restored trainer state. */
  best?: BestRecord;
  /** Weights and config.json to save instead of the model's (a reward model: backbone + score head). */
  weights?: { params: ParamSet; config: Record<string, unknown> };
  /** A LoRA job: evaluate the merged weights, checkpoint the PEFT adapter directory (lora-job.ts). */
  lora?: { merged(): ParamSet; writeCheckpoint(dir: string): void };
}

export class JobPoints {
  private readonly ckEvery: number;
  private readonly evalEvery: number;
  private readonly keepLast: number;
  private readonly best?: BestTracker;
  /** The best metric comes from evaluations (judged at evaluation points, not at every checkpoint). */
  private readonly bestFromEvaluation: boolean = false;
  private lastSaved = -1;

  constructor(
    private readonly ctx: RunContext,
    private readonly o: JobPointsOptions,
  ) {
    const spec = ctx.job.spec!;
    this.ckEvery = Number(spec.checkpoints?.everyNSteps ?? 0n);
    this.evalEvery = Number(spec.evaluation?.everyNSteps ?? 0n);
    this.keepLast = spec.checkpoints?.keepLast ?? 0;
    const sel = bestSelectionOf(spec);
    if (sel) this.best = new BestTracker(sel, bestSoFar(ctx, sel.metric, o.best));
    if (sel) this.bestFromEvaluation = isEvaluationMetric(sel.metric, spec);
  }

  private get evaluates(): boolean {
    return this.o.evaluator !== undefined || this.o.tasks !== undefined;
  }

  /** EvalConfig.at_start: evaluate the initial model (a first best checkpoint when it is one). */
  async atStart(p: JobPoint): Promise<void> {
    if (!this.ctx.job.spec!.evaluation?.atStart || !this.evaluates) return;
    const { newBest, metrics } = await this.evaluate(p);
    if (newBest && this.lastSaved !== p.step) await this.checkpoint(p, { best: true, metrics });
  }

  /** After each optimizer step. `boundary` = the step ended an epoch or stage, or is the job's last. */
  async after(p: JobPoint, f: { boundary: boolean; stopping?: boolean }): Promise<void> {
    let best = false;
    let metrics: Record<string, number> | undefined;
    if (this.evaluates && (f.boundary || (this.evalEvery > 0 && p.step % this.evalEvery === 0))) ({ newBest: best, metrics } = await this.evaluate(p));
    const due = f.boundary || best || (f.stopping ?? false) || (this.ckEvery > 0 && p.step % this.ckEvery === 0);
    if (due && this.lastSaved !== p.step) await this.checkpoint(p, { best, metrics });
  }

  /**
   * Runs the held-out evaluation and the evaluator's tasks and reports them (an `evaluation` event, merged
   * into latest metrics). The tasks need this step's weights in the store, so this step is checkpointed
   * first; when the tasks then make it the best, that version is marked best afterwards.
   */
  async evaluate(p: JobPoint): Promise<{ metrics: Record<string, number>; newBest: boolean }> {
    const metrics = this.o.evaluator ? await this.o.evaluator.evaluate(this.o.lora?.merged() ?? this.o.weights?.params ?? this.o.model.params) : {};
    let newBest: boolean;
    if (this.o.tasks) {
      const version = this.lastSaved === p.step ? Number(this.ctx.job.lastCheckpoint!.version) : await this.checkpoint(p, { metrics });
      Object.assign(metrics, await this.o.tasks.evaluate({ version, step: p.step }));
      newBest = this.best !== undefined && this.best.beats(metrics[this.best.selection.metric]);
      if (newBest) this.markBest(version, p.step, metrics);
    } else newBest = this.best !== undefined && this.best.beats(metrics[this.best.selection.metric]);
    this.ctx.job.latestMetrics = { ...this.ctx.job.latestMetrics, ...metrics };
    this.ctx.emit({ case: 'evaluation', value: { step: BigInt(p.step), metrics, newBest } });
    return { metrics, newBest };
  }

  /** Marks an already saved version (the last) as the best: Job.best_checkpoint, the tracker's record, pruning. */
  private markBest(version: number, step: number, metrics: Record<string, number>): void {
    this.best!.record = { ...this.best!.selection, value: metrics[this.best!.selection.metric]!, version, step };
    const info = this.ctx.job.lastCheckpoint!;
    info.best = true;
    info.metrics = { ...info.metrics, ...metrics };
    this.ctx.job.bestCheckpoint = info;
    this.ctx.save();
    this.prune();
  }

  private prune(): void {
    if (this.keepLast <= 0) return;
    const keep = new Set<number>(this.best?.record ? [this.best.record.version] : []);
    this.o.store.prune(this.ctx.job.id, this.keepLast, keep);
  }

  /** Saves this point's weights and trainer state as the next version; returns the version. */
  async checkpoint(p: JobPoint, o: { best?: boolean; metrics?: Record<string, number> } = {}): Promise<number> {
    const { store, model, algorithm } = this.o;
    const jobId = this.ctx.job.id;
    const version = (store.latest(jobId) ?? 0) + 1;
    const metrics = { ...this.ctx.job.latestMetrics, ...o.metrics };
    let best = o.best ?? false;
    // A best metric that is a step metric (not an evaluation's) is judged at every checkpoint.
    if (!best && this.best && !this.bestFromEvaluation) best = this.best.beats(metrics[this.best.selection.metric]);
    if (best && this.best) this.best.record = { ...this.best.selection, value: metrics[this.best.selection.metric]!, version, step: p.step };
    const files = encodeTrainerState({
      state: {
        algorithm,
        configSha256: this.ctx.job.configSha256,
        step: p.step,
        epoch: p.epoch,
        stage: p.stage,
        stageStep: p.stageStep,
        cursor: p.cursor,
        rng: { seed: this.o.seed, shuffle: this.o.shuffle, ...(p.rngExtra ? { extra: p.rngExtra } : {}) },
        tokens: String(p.tokens ?? 0n),
        metrics,
        ...(this.best?.record ? { best: this.best.record } : {}),
        ...(p.extra ? { extra: p.extra } : {}),
      },
      optimizers: p.optimizers(),
      buffers: p.buffers?.(),
      stageSamples: p.stageSamples,
    });
    await saveCheckpoint(this.ctx, store, model, p.step, algorithm, {
      files,
      version,
      epoch: p.epoch,
      stage: p.stage,
      metrics,
      best,
      dataPosition: dataPositionOf(p, p.stageSamples !== undefined),
      ...this.o.weights,
      ...(this.o.lora ? { writeWeights: (dir: string) => this.o.lora!.writeCheckpoint(dir) } : {}),
    });
    this.lastSaved = p.step;
    this.prune();
    return version;
  }
}

/**
 * The best so far for `metric`: the restored trainer state's record, or the job's best checkpoint when it
 * is newer. A version made best by evaluator tasks is marked after it was written, so its own trainer
 * state still holds the previous best; the job record has the newer one.
 */
function bestSoFar(ctx: RunContext, metric: string, restored: BestRecord | undefined): BestRecord | undefined {
  const fromState = restored?.metric === metric ? restored : undefined;
  const b = ctx.job.bestCheckpoint;
  const value = b?.metrics[metric];
  if (!b || value === undefined || Number(b.version) <= (fromState?.version ?? 0)) return fromState;
  const goal = fromState?.goal ?? bestSelectionOf(ctx.job.spec!)!.goal;
  return { metric, goal, value, version: Number(b.version), step: Number(b.step) };
}
