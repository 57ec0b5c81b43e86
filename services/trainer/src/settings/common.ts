// TrainingHyperparameters with every proto default filled in, in the terms the training loops take: the
// optimizer (AdamW β1/β2/ε or RMSprop α/ε/momentum, weight decay), the LR schedule (kind, warmup from
// warmup_steps or warmup_ratio, min_lr_ratio), gradient accumulation, clipping and truncation. One place,
// so every algorithm reads a setting the same way and none is silently dropped; each algorithm's
// resolve (settings/<algorithm>.ts) builds on it. The proto's documented defaults live here and there
// only: runners never write `h?.x || default` themselves.
import type { OptimizerSettings } from '@juice/optim';
import { truncationFromHyperparameters } from '@juice/data';
import { LrSchedule, Optimizer, PairLoss, type JobSpec, type TrainingHyperparameters } from '@juice/proto';
import { badSpec } from '../runners/job-error.js';

const SCHEDULES = { [LrSchedule.LINEAR]: 'linear', [LrSchedule.COSINE]: 'cosine' } as Record<number, 'linear' | 'cosine'>;
const PAIR_LOSSES = { [PairLoss.HINGE]: 'hinge', [PairLoss.LINEAR]: 'linear' } as Record<number, 'hinge' | 'linear'>;

/** PairLoss (DPO, IRFT): unset = LOGISTIC. */
export const pairLossOf = (l: PairLoss | undefined): 'logistic' | 'hinge' | 'linear' => PAIR_LOSSES[l ?? 0] ?? 'logistic';

/** What every algorithm reads from TrainingHyperparameters, defaults filled in (trainer.proto). */
export interface CommonSettings {
  /** seed 0 = 42. */
  seed: number;
  /** Rows per micro-batch (0 = 8). */
  batchSize: number;
  /** Micro-batches per optimizer step (0 = 1). */
  gradientAccumulationSteps: number;
  /** Passes over the data (0 = 1). */
  epochs: number;
  /** The job's optimizer steps; 0 = from the data. */
  maxSteps: number;
  noShuffle: boolean;
  optimizerSettings: OptimizerSettings;
  /** max_grad_norm unset = 1.0; 0 = no clipping. */
  maxGradNorm: number;
}

export function commonSettings(spec: JobSpec): CommonSettings {
  const h = spec.hyperparameters;
  return {
    seed: Number(h?.seed || 42n),
    batchSize: h?.batchSize || 8,
    gradientAccumulationSteps: accumulationSteps(h),
    epochs: h?.epochs || 1,
    maxSteps: Number(h?.maxSteps ?? 0n),
    noShuffle: h?.noShuffle ?? false,
    optimizerSettings: optimizerSettings(h),
    maxGradNorm: h?.maxGradNorm ?? 1,
  };
}

/** The learning rate (0 = the algorithm's default) and its schedule over the job's `totalSteps`. */
export function lrSettings(h: TrainingHyperparameters | undefined, defaultLr: number, totalSteps: number): { learningRate: number } & ScheduleSettings {
  return { learningRate: h?.learningRate || defaultLr, ...scheduleSettings(h, totalSteps) };
}

/** trainer.proto: OPTIMIZER_ADAMW (β 0.9/0.999) or OPTIMIZER_RMSPROP (α 0.99, momentum 0); ε 1e-8; weight decay 0. */
export function optimizerSettings(h: TrainingHyperparameters | undefined): OptimizerSettings {
  const eps = h?.epsilon || 1e-8;
  const weightDecay = h?.weightDecay ?? 0;
  if (h?.optimizer === Optimizer.RMSPROP) return { kind: 'rmsprop', alpha: h.rmspropAlpha || 0.99, eps, momentum: h.rmspropMomentum ?? 0, weightDecay };
  return { kind: 'adamw', beta1: h?.adamBeta1 || 0.9, beta2: h?.adamBeta2 || 0.999, eps, weightDecay };
}

export interface ScheduleSettings {
  schedule: 'constant' | 'linear' | 'cosine';
  warmupSteps: number;
  minLrRatio: number;
}

/**
 * The schedule over `totalSteps` optimizer steps: warmup_steps when > 0, else ceil(warmup_ratio ·
 * totalSteps) (HF TrainingArguments.get_warmup_steps); min_lr_ratio is the final fraction of LINEAR/COSINE.
 */
export function scheduleSettings(h: TrainingHyperparameters | undefined, totalSteps: number): ScheduleSettings {
  const schedule = (SCHEDULES[h?.lrSchedule ?? 0] as ScheduleSettings['schedule'] | undefined) ?? 'constant';
  const warmupSteps = h?.warmupSteps || Math.ceil((h?.warmupRatio ?? 0) * totalSteps);
  const minLrRatio = h?.minLrRatio ?? 0;
  // Validation refuses this too; kept here so a stored spec from an older trainer fails by name.
  if (minLrRatio !== 0 && schedule === 'constant') throw badSpec('spec.hyperparameters.min_lr_ratio', 'applies to LR_SCHEDULE_LINEAR and LR_SCHEDULE_COSINE only; the schedule is constant');
  return { schedule, warmupSteps, minLrRatio };
}

/** Micro-batches per optimizer step (0 = 1). */
export function accumulationSteps(h: TrainingHyperparameters | undefined): number {
  return h?.gradientAccumulationSteps || 1;
}

/** Rows (sequences, or pairs) per optimizer step: batch_size × gradient_accumulation_steps. */
export function rowsPerStep(h: TrainingHyperparameters | undefined): number {
  return (h?.batchSize || 8) * accumulationSteps(h);
}

/** max_length (0 = min(512, context)) and max_prompt_length (0 = max_length / 4), as trainer.proto says. */
export function truncation(h: TrainingHyperparameters | undefined, contextLength: number): { maxLength: number; maxPromptLength: number } {
  try {
    return truncationFromHyperparameters({ maxLength: h?.maxLength ?? 0, maxPromptLength: h?.maxPromptLength ?? 0 }, contextLength);
  } catch (e) {
    throw badSpec('spec.hyperparameters.max_length', (e as Error).message);
  }
}
