// Gradient accumulation shared by every loop (TrainingHyperparameters.gradient_accumulation_steps): one
// optimizer step's rows are cut into micro-batches of batch_size, each runs forward/backward on its own,
// and their gradients, losses and metrics are averaged with weights chosen so the result is the gradient
// of the whole batch's objective: a token-mean loss weighs each micro-batch by its counted tokens, a
// per-row (pair, sequence) mean by its rows. One micro-batch is passed through untouched, so a loop
// without accumulation computes exactly what it did before.
import { GradAccumulator, type ParamSet } from '@juice/optim';
import type { StepResult } from '../engine/train-step.js';

/** Splits a step's row indices into micro-batches of at most `size` rows, in order. */
export function microBatches<T>(rows: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size <= 0) throw new RangeError(`micro-batch size must be a positive integer, got ${size}`);
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}

export function checkAccumulationSteps(n: number | undefined): number {
  const k = n ?? 1;
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`gradientAccumulationSteps must be an integer >= 1, got ${k}`);
  return k;
}

/** Runs the micro-batches and combines them; `weight` is each micro-batch's share of the objective's denominator. */
export class Accumulator {
  private acc: GradAccumulator | undefined;
  constructor(private readonly layout: ParamSet) {}

  async run<M>(micro: readonly M[], step: (m: M, index: number) => Promise<StepResult>, weight: (m: M) => number): Promise<StepResult> {
    if (micro.length === 1) return step(micro[0]!, 0);
    this.acc ??= new GradAccumulator(this.layout);
    this.acc.reset();
    let loss = 0;
    let total = 0;
    const metrics: Record<string, number> = {};
    for (const [i, m] of micro.entries()) {
      const w = weight(m);
      const r = await step(m, i);
      // The step's gradient buffer is reused by the next micro-batch: add() copies it first.
      this.acc.add(r.grads, w);
      loss += w * r.loss;
      for (const [k, v] of Object.entries(r.metrics)) metrics[k] = (metrics[k] ?? 0) + w * v;
      total += w;
    }
    const inv = total > 0 ? 1 / total : 0;
    for (const k of Object.keys(metrics)) metrics[k]! *= inv;
    if (total === 0) return { loss: NaN, metrics, grads: this.acc.buffer.fill(0) };
    return { loss: loss * inv, metrics, grads: this.acc.finalize() };
  }
}
