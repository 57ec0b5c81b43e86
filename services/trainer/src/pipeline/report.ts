// What a running job reports after each optimizer step: progress on the job record, the step's metrics
// as a stepMetrics event and in latest_metrics, and the record saved every 10 steps (every step's
// checkpoint saves it anyway). One place, so every algorithm's events look alike.
import type { RunContext } from '../job-manager.js';

export function reportStep(ctx: RunContext, step: number, metrics: Record<string, number>, o: { totalSteps: number; epoch?: number; stage?: number; tokens?: bigint }): void {
  const progress = ctx.job.progress!;
  progress.step = BigInt(step);
  progress.fraction = Math.min(1, step / Math.max(1, o.totalSteps));
  if (o.epoch !== undefined) progress.epoch = o.epoch;
  if (o.stage !== undefined) progress.stage = o.stage;
  if (o.tokens !== undefined) progress.tokens = o.tokens;
  ctx.job.latestMetrics = { ...ctx.job.latestMetrics, ...metrics };
  ctx.emit({ case: 'stepMetrics', value: { step: BigInt(step), ...(o.epoch !== undefined ? { epoch: o.epoch } : {}), ...(o.stage !== undefined ? { stage: o.stage } : {}), metrics } });
  if (step % 10 === 0) ctx.save();
}
