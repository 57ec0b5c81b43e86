// Where a job that is resuming continues: the newest checkpoint version holding trainer state (or the one
// ResumeJob named), verified, checked against the algorithm, logged on the job, and reflected in the job
// record (last/best checkpoint, data position). No such checkpoint: the job starts over, and says so.
import type { CheckpointStore } from '@juice/checkpoint';
import type { RunContext } from '../job-manager.js';
import { checkpointInfoOf } from './checkpoint-info.js';
import { jobLog } from './job-log.js';
import { dataPositionOf, readTrainerState, resumableVersion, type RestoredTrainerState } from './trainer-state.js';
import { unusableCheckpoint } from './job-error.js';

export function resumePoint(ctx: RunContext, store: CheckpointStore, algorithm: string, logger: string): RestoredTrainerState | undefined {
  if (!ctx.resuming) return undefined;
  const version = resumableVersion(store, ctx.job.id, ctx.checkpointVersion);
  if (version === undefined) {
    jobLog(ctx, 'warn', logger, 'no checkpoint with trainer state to resume from: starting the job over', { attempt: ctx.job.attempts });
    return undefined;
  }
  const restored = readTrainerState(store, ctx.job.id, version);
  const s = restored.state;
  if (s.algorithm !== algorithm) {
    throw unusableCheckpoint(`checkpoint v${version} holds ${s.algorithm} trainer state; this job runs ${algorithm}`);
  }
  const best = s.best ? BigInt(s.best.version) : undefined;
  ctx.job.lastCheckpoint = checkpointInfoOf(store, ctx.job.id, version, best);
  // The best as of the resumed checkpoint: a newer best (resuming from an older version) is not the
  // continuing run's, and keep_last will prune it.
  ctx.job.bestCheckpoint = s.best && store.list(ctx.job.id).includes(s.best.version) ? checkpointInfoOf(store, ctx.job.id, s.best.version, best) : undefined;
  ctx.job.dataPosition = dataPositionOf(s, s.stageSamplesReady);
  ctx.job.latestMetrics = { ...ctx.job.latestMetrics, ...s.metrics };
  ctx.save();
  jobLog(ctx, 'info', logger, `resuming from checkpoint v${version} at step ${s.step} (stage ${s.stage}, epoch ${s.epoch}, ${s.cursor.rowsConsumed} rows of the epoch consumed)`, {
    checkpoint_version: version,
    step: s.step,
    stage: s.stage,
    epoch: s.epoch,
    rows_consumed: s.cursor.rowsConsumed,
    attempt: ctx.job.attempts,
  });
  return restored;
}
