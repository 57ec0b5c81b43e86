// What the single-phase jobs (SFT, DPO) hand their loop alike: the optimisation hyper-parameters of the
// spec, where a resumed run starts (step, data cursor, optimizer moments), and the per-step hook that lets
// JobPoints evaluate and checkpoint at step, epoch and job boundaries. One place, so a new knob or a fix
// to resume reaches both jobs.
import type { LoopPosition } from '@juice/algorithms';
import type { TrainingHyperparameters } from '@juice/proto';
import type { RunContext } from '../job-manager.js';
import { accumulationSteps, optimizerSettings, scheduleSettings } from './hyperparameters.js';
import type { JobPoint, JobPoints } from './job-points.js';
import { checkCursor, type RestoredTrainerState } from './trainer-state.js';

/** `totalSteps`: the job's optimizer steps (what warmup_ratio and the schedule span). */
export function singlePassOptions(ctx: RunContext, h: TrainingHyperparameters | undefined, restored: RestoredTrainerState | undefined, rows: number, defaultLr: number, seed: number, totalSteps: number) {
  return {
    learningRate: h?.learningRate || defaultLr,
    ...scheduleSettings(h, totalSteps),
    weightDecay: h?.weightDecay ?? 0,
    optimizerSettings: optimizerSettings(h),
    gradientAccumulationSteps: accumulationSteps(h),
    maxGradNorm: h?.maxGradNorm ?? 1,
    seed,
    noShuffle: h?.noShuffle ?? false,
    signal: ctx.signal,
    startStep: restored?.state.step ?? 0,
    cursor: restored ? checkCursor(restored.state, rows) : undefined,
    optimizerState: restored?.optimizers.policy,
  };
}

/** The loop's afterStep for a single-phase job; `extra` adds to the point (e.g. the token count). */
export function singlePassAfterStep(ctx: RunContext, points: JobPoints, extra: () => Partial<JobPoint> = () => ({})) {
  return (at: LoopPosition) =>
    points.after(
      { step: at.step, epoch: at.epoch, stage: 0, stageStep: at.step, cursor: at.cursor, optimizers: () => ({ policy: at.optimizer.state() }), ...extra() },
      { boundary: at.epochEnd || at.last, stopping: at.stopping && !ctx.skipCheckpointOnStop?.() },
    );
}
