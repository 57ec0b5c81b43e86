// Learning-rate schedules with the exact formulas of HF transformers (optimization.py), which run under
// torch's LambdaLR: the lr of optimiser step k (0-based, k = steps already taken) is baseLr * lambda(k).
// Note the HF convention that the first step of a warm-up schedule has lr 0.

export type ScheduleKind = 'constant' | 'linear' | 'cosine';

export interface ScheduleOptions {
  kind: ScheduleKind;
  baseLr: number;
  warmupSteps?: number;
  /** Required for linear and cosine. */
  totalSteps?: number;
  /** Cosine only: half-waves over the decay (HF default 0.5: one decay from 1 to 0). */
  numCycles?: number;
  /**
   * Linear and cosine: the final lr as a fraction of baseLr (TrainingHyperparameters.min_lr_ratio). Cosine
   * applies it as HF get_cosine_with_min_lr_schedule_with_warmup's min_lr_rate; linear decays from 1 to it
   * (HF's linear schedule with the floor folded in: minLrRatio + (1 − minLrRatio)·(total − s)/(total − warm)).
   */
  minLrRatio?: number;
}

export interface LrSchedule {
  readonly options: Readonly<ScheduleOptions>;
  /** lambda(step): the multiplier of baseLr. */
  multiplierAt(step: number): number;
  /** The lr to use for the optimiser step that follows `step` completed steps. */
  lrAt(step: number): number;
}

function warmup(step: number, warmupSteps: number): number {
  return step / Math.max(1, warmupSteps);
}

export function createSchedule(options: ScheduleOptions): LrSchedule {
  const warm = options.warmupSteps ?? 0;
  const total = options.totalSteps;
  if (!(warm >= 0) || !Number.isInteger(warm)) throw new Error(`schedule warmupSteps must be an integer >= 0, got ${warm}`);
  if (options.kind !== 'constant' && (total === undefined || !Number.isInteger(total) || total < 0)) {
    throw new Error(`${options.kind} schedule needs totalSteps (an integer >= 0), got ${String(total)}`);
  }
  const minLrRatio = options.minLrRatio ?? 0;
  if (!(minLrRatio >= 0 && minLrRatio <= 1)) throw new Error(`schedule minLrRatio must be in [0, 1], got ${minLrRatio}`);
  if (minLrRatio !== 0 && options.kind === 'constant') throw new Error('minLrRatio applies to the linear and cosine schedules, not constant');
  const numCycles = options.numCycles ?? 0.5;
  let lambda: (step: number) => number;
  switch (options.kind) {
    case 'constant':
      lambda = (s) => (s < warm ? warmup(s, warm) : 1.0);
      break;
    case 'linear':
      // minLrRatio 0 is exactly HF get_linear_schedule_with_warmup.
      lambda = (s) => (s < warm ? warmup(s, warm) : minLrRatio + (1 - minLrRatio) * Math.max(0.0, (total! - s) / Math.max(1, total! - warm)));
      break;
    case 'cosine':
      lambda = (s) => {
        if (s < warm) return warmup(s, warm);
        const progress = (s - warm) / Math.max(1, total! - warm);
        const factor = 0.5 * (1.0 + Math.cos(Math.PI * numCycles * 2.0 * progress));
        // HF applies the floor this way (identity when minLrRatio = 0, matching get_cosine_schedule_with_warmup).
        return Math.max(0, factor * (1 - minLrRatio) + minLrRatio);
      };
      break;
    default:
      throw new Error(`unknown schedule kind "${String((options as ScheduleOptions).kind)}" (valid: constant, linear, cosine)`);
  }
  return {
    options: Object.freeze({ ...options }),
    multiplierAt: lambda,
    lrAt: (step) => options.baseLr * lambda(step),
  };
}
