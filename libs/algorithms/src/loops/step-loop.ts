// The one step loop every objective runs (SFT, pairwise DPO/IRFT, reward model, RFT's policy step):
//   next batch → TrainStep.run per micro-batch → accumulate → clip → optimizer step → schedule → report
//   → yield to the event loop → afterStep (evaluate, checkpoint).
// The objectives differ only in how a batch is built and fed (`next`, `run`, `weight`); everything a
// step does to the weights, and every policy about it, lives here once:
//   clipping     maxGradNorm unset = 1.0 (trainer.proto), 0 = no clipping; grad_norm is always the
//                pre-clip global L2 norm;
//   NaN policy   a step whose loss or gradient norm is not finite is SKIPPED: the weights and the
//                optimizer's moments and step count stay as they were (one bad batch, e.g. with no
//                counted tokens, must not poison AdamW's moments), and it is COUNTED: every step's
//                metrics carry `nonfinite_steps`, the skipped steps of this loop so far (docs/ALGORITHMS.md);
//   onStep       (step, metrics, { epoch }) for every loop;
//   resume       startStep > 0 needs the data position (`cursor`, checked by the caller's order) and the
//                optimizer's state (a restored one or a live optimizer carried over).
import { clipGradNorm, globalGradNorm, type FlatOptimizer, type ParamSet } from '@juice/optim';
import type { DataCursor } from '@juice/data';
import type { StepResult } from '../engine/train-step.js';
import { Accumulator, microBatches } from './accumulate.js';

/** Where a loop is after a step: everything a checkpoint must hold besides the weights. */
export interface LoopPosition {
  /** Optimizer steps completed. */
  step: number;
  /** Epoch of the step just taken. */
  epoch: number;
  /** The step just taken finished an epoch. */
  epochEnd: boolean;
  /** The last step of the loop. */
  last: boolean;
  /** The abort signal fired: the loop stops after this callback. */
  stopping: boolean;
  cursor: DataCursor;
  optimizer: FlatOptimizer;
}

/** The one per-step report signature of every loop. */
export type OnStep = (step: number, metrics: Record<string, number>, at: { epoch: number }) => void;

/** A step's rows, cut into micro-batches, plus where the data order stands after taking them. */
export interface StepBatch<M> {
  micro: M[];
  epoch: number;
  epochEnd: boolean;
  cursor: DataCursor;
}

export interface StepLoopOptions<M> {
  /** The weights trained in place (the gradient layout). */
  params: ParamSet;
  optimizer: FlatOptimizer;
  /** lr of the step after `k` completed steps of this loop (a schedule, possibly offset into a job-wide one). */
  lrAt: (k: number) => number;
  /** Unset = 1.0; 0 = no clipping. */
  maxGradNorm?: number;
  /** Steps already taken (resume). Default 0. */
  startStep?: number;
  /** Runs steps startStep+1..stopAfter. */
  stopAfter: number;
  /** The next step's micro-batches. */
  next: () => StepBatch<M>;
  /** Forward/backward of one micro-batch; `at`: the 0-based optimizer step of this loop and the micro-batch's index in it (e.g. to key LoRA dropout masks). */
  run: (m: M, at: { step: number; micro: number }) => Promise<StepResult>;
  /** A micro-batch's share of the objective's denominator (tokens of a token mean, rows of a row mean). */
  weight: (m: M) => number;
  /** Metrics a step adds (e.g. tokens per second), from its micro-batches and its duration. */
  extraMetrics?: (micro: M[], seconds: number) => Record<string, number>;
  /** Metric names: `loss`, `lr`, `grad_norm` unless renamed (the reward model reports rm/*). */
  names?: { loss?: string; lr?: string; gradNorm?: string };
  signal?: AbortSignal;
  onStep?: OnStep;
  afterStep?: (at: LoopPosition) => Promise<void> | void;
  /** Name in errors, e.g. "runSft". */
  what: string;
  /** Whether a resume (startStep > 0) has its data position and optimizer state. */
  resumable?: { cursor: boolean; optimizerState: boolean };
}

export interface StepLoopResult {
  steps: number;
  firstLoss: number;
  lastLoss: number;
  first: Record<string, number>;
  last: Record<string, number>;
  /** Per-metric means over the steps run. */
  mean: Record<string, number>;
  /** Steps skipped for a non-finite loss or gradient norm. */
  nonfiniteSteps: number;
}

/** The one resume-position contract: a loop resumed after step k needs the cursor and the optimizer state. */
export function checkResume(what: string, startStep: number, has: { cursor: boolean; optimizerState: boolean }): void {
  if (startStep > 0 && (!has.cursor || !has.optimizerState)) {
    throw new Error(`${what}: resuming at step ${startStep} needs both the saved data cursor and the optimizer state (or the live optimizer)`);
  }
}

export async function runStepLoop<M>(o: StepLoopOptions<M>): Promise<StepLoopResult> {
  const start = o.startStep ?? 0;
  if (o.resumable) checkResume(o.what, start, o.resumable);
  const maxNorm = o.maxGradNorm ?? 1;
  const names = { loss: o.names?.loss ?? 'loss', lr: o.names?.lr ?? 'lr', gradNorm: o.names?.gradNorm ?? 'grad_norm' };
  const acc = new Accumulator(o.params);
  let first: Record<string, number> = {};
  let last: Record<string, number> = {};
  const sums: Record<string, number> = {};
  let nonfinite = 0;
  let firstLoss = NaN;
  for (let s = start; s < o.stopAfter; s++) {
    o.signal?.throwIfAborted();
    const b = o.next();
    const t0 = performance.now();
    const r = await acc.run(b.micro, (m, micro) => o.run(m, { step: s, micro }), o.weight);
    // The pre-clip norm (torch's clip_grad_norm_ return value); measured even without clipping, so the
    // NaN policy sees a non-finite gradient whatever the clipping setting.
    const gradNorm = maxNorm > 0 ? clipGradNorm(r.grads, maxNorm) : globalGradNorm(r.grads);
    const lr = o.lrAt(s);
    if (Number.isFinite(r.loss) && Number.isFinite(gradNorm)) o.optimizer.step(r.grads, lr);
    else nonfinite++;
    const seconds = (performance.now() - t0) / 1000;
    last = { [names.loss]: r.loss, [names.lr]: lr, [names.gradNorm]: gradNorm, ...r.metrics, ...o.extraMetrics?.(b.micro, seconds), step_seconds: seconds, nonfinite_steps: nonfinite };
    if (s === start) {
      first = last;
      firstLoss = r.loss;
    }
    for (const [k, v] of Object.entries(last)) sums[k] = (sums[k] ?? 0) + v;
    o.onStep?.(s + 1, last, { epoch: b.epoch });
    // Let the service's event loop breathe between steps (watchers, cancellation): before afterStep,
    // so a stop requested meanwhile is seen there and checkpointed.
    await new Promise<void>((res) => setImmediate(res));
    await o.afterStep?.({ step: s + 1, epoch: b.epoch, epochEnd: b.epochEnd, last: s + 1 === o.stopAfter, stopping: o.signal?.aborted ?? false, cursor: b.cursor, optimizer: o.optimizer });
  }
  const n = Math.max(1, o.stopAfter - start);
  return { steps: o.stopAfter - start, firstLoss, lastLoss: last[names.loss] ?? NaN, first, last, mean: Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / n])), nonfiniteSteps: nonfinite };
}

export { microBatches };
