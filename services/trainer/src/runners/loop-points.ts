// What a single-phase job (SFT, DPO, REWARD_MODEL) hands its loop alike: where a resumed run starts
// (step, data cursor, optimizer moments: the one resume-position contract of libs/algorithms' step loop)
// and the per-step hook that lets JobPoints evaluate and checkpoint at step, epoch and job boundaries.
import type { LoopPosition } from '@juice/algorithms';
import type { RunContext } from '../job-manager.js';
import type { JobPoint, JobPoints } from './job-points.js';
import { checkCursor, type RestoredTrainerState } from './trainer-state.js';

/** The loop's resume position from a restored checkpoint (none: a fresh start). */
export function loopResume(restored: RestoredTrainerState | undefined, rows: number, optimizer = 'policy') {
  return {
    startStep: restored?.state.step ?? 0,
    cursor: restored ? checkCursor(restored.state, rows) : undefined,
    optimizerState: restored?.optimizers[optimizer],
  };
}

/** The loop's afterStep for a single-phase job; `extra` adds to the point (e.g. the token count, buffers). */
export function loopAfterStep(ctx: RunContext, points: JobPoints, extra: () => Partial<JobPoint> = () => ({}), optimizer = 'policy') {
  return (at: LoopPosition) =>
    points.after(
      { step: at.step, epoch: at.epoch, stage: 0, stageStep: at.step, cursor: at.cursor, optimizers: () => ({ [optimizer]: at.optimizer.state() }), ...extra() },
      { boundary: at.epochEnd || at.last, stopping: at.stopping && !ctx.skipCheckpointOnStop?.() },
    );
}
