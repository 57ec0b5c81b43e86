// One training job of the main job: StartJob, then WatchJob to the end with a progress bar, keeping
// every step's metrics (the report's curves) and the weight pushes (the IRFT timing). A trainer
// without a runner for the algorithm answers UNIMPLEMENTED; that is an outcome to report, not a crash.
import type { MessageInitShape } from '@bufbuild/protobuf';
import { Algorithm, JobState, type JobSpecSchema, type TrainerService } from '@juice/proto';
import { ServiceError, status, type createClient } from '@juice/service-kit';
import { Progress } from '../progress.js';

export type TrainerClient = ReturnType<typeof createClient<typeof TrainerService>>;

export interface StepRecord {
  step: number;
  stage: number;
  metrics: Record<string, number>;
}

export interface PushRecord {
  target: string;
  version: number;
  bytes: number;
  seconds: number;
}

export type JobOutcome =
  | { status: 'succeeded'; jobId: string; checkpoint: string; steps: StepRecord[]; pushes: PushRecord[]; seconds: number; totalSteps: number }
  | { status: 'failed'; jobId: string; message: string; steps: StepRecord[]; pushes: PushRecord[]; seconds: number }
  | { status: 'unavailable'; message: string };

/** `onStarted` learns the job id once the trainer accepted the job (the run's bookkeeping keeps it). */
export async function runJob(trainer: TrainerClient, label: string, spec: MessageInitShape<typeof JobSpecSchema>, signal?: AbortSignal, onStarted?: (jobId: string) => void): Promise<JobOutcome> {
  const t0 = performance.now();
  let job;
  try {
    ({ job } = await trainer.startJob({ spec: { name: label, ...spec } }, { signal }));
  } catch (e) {
    if (e instanceof ServiceError && e.code === status.UNIMPLEMENTED) return { status: 'unavailable', message: e.message };
    throw e;
  }
  const jobId = job!.id;
  onStarted?.(jobId);
  const bar = new Progress(label.padEnd(8));
  const steps: StepRecord[] = [];
  const pushes: PushRecord[] = [];
  const errors: string[] = [];
  let final = JobState.UNSPECIFIED;
  let stageNote = '';
  // The runner records the planned total before its first step; read it once, not per step.
  let total = 0;
  for await (const e of trainer.watchJob({ jobId, fromBeginning: true, omitLogs: true }, { signal })) {
    const ev = e.event;
    if (ev.case === 'stepMetrics') {
      const s = { step: Number(ev.value.step), stage: ev.value.stage, metrics: { ...ev.value.metrics } };
      steps.push(s);
      if (!total) total = Number((await trainer.getJob({ jobId })).job?.progress?.totalSteps ?? 0n);
      const loss = s.metrics.loss;
      const margin = s.metrics['reward/margin'];
      if (s.metrics['gen/seconds'] !== undefined) stageNote = `${spec.algorithm === Algorithm.RFT ? 'round' : 'stage'} ${s.stage + 1} samples in ${s.metrics['gen/seconds']!.toFixed(1)} s`;
      bar.update(total ? s.step / total : 0, [`step ${s.step}/${total}`, loss !== undefined ? `loss ${loss.toFixed(3)}` : '', margin !== undefined ? `margin ${margin.toFixed(3)}` : '', stageNote].filter(Boolean).join('  '));
    } else if (ev.case === 'weightsPushed') {
      pushes.push({ target: ev.value.target, version: Number(ev.value.version), bytes: Number(ev.value.bytes), seconds: ev.value.seconds });
    } else if (ev.case === 'error') errors.push(`${ev.value.code}: ${ev.value.message}`);
    else if (ev.case === 'stateChange') final = ev.value.to;
  }
  const seconds = (performance.now() - t0) / 1000;
  const done = (await trainer.getJob({ jobId })).job!;
  bar.done(`${JobState[final]} in ${seconds.toFixed(1)} s`);
  if (final !== JobState.SUCCEEDED || !done.lastCheckpoint?.path) {
    const message = done.error ? `${done.error.code}: ${done.error.message}` : errors.join('; ') || `job ended ${JobState[final]}`;
    return { status: 'failed', jobId, message, steps, pushes, seconds };
  }
  return { status: 'succeeded', jobId, checkpoint: done.lastCheckpoint.path, steps, pushes, seconds, totalSteps: Number(done.progress?.totalSteps ?? 0n) };
}
