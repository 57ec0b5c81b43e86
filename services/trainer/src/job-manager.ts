// The life of a job: accepted, run by the runner for its algorithm, watched, cancelled, resumed. The
// algorithms themselves live in libs/algorithms; this module only schedules them, records what happens
// and fans events out to watchers. Jobs that were RUNNING when the trainer died are resumed on start.
import { EventEmitter, on } from 'node:events';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import { Algorithm, ErrorDetailSchema, JobSchema, JobState, StatusError, statusOf, WatchJobResponseSchema, type ErrorDetail, type Job, type JobSpec, type WatchJobResponse } from '@juice/proto';
import { abortOf, JobAbort } from './job-abort.js';
import { CheckpointStore } from '@juice/checkpoint';
import type { JobStore } from './job-store.js';

export type JobEvent = NonNullable<MessageInitShape<typeof WatchJobResponseSchema>['event']>;

/** What a runner gets: the job record (mutable: progress, metrics, checkpoints), a way to report, a stop signal. */
export interface RunContext {
  job: Job;
  /** The trainer's checkpoint store (owned by the job manager): this job's versions live under its id. */
  checkpoints: CheckpointStore;
  /** The job's own directory (the embedded default model is built there). */
  jobDir: string;
  /** True when this run continues from the job's last checkpoint (ResumeJob or a restart). */
  resuming: boolean;
  /** The trainer's default evaluator address (--evaluator), for jobs whose spec.endpoints name none. */
  evaluator?: string;
  /** ResumeJob's checkpoint_version (unset = the newest checkpoint with trainer state). */
  checkpointVersion?: number;
  /** True after CancelJob with skip_checkpoint: a stopping job must not checkpoint its current step. */
  skipCheckpointOnStop?: () => boolean;
  signal: AbortSignal;
  emit(event: JobEvent): void;
  /** Persist the job record (after progress, checkpoints). */
  save(): void;
}

export type JobRunner = (ctx: RunContext) => Promise<void>;

const TERMINAL = new Set([JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED]);

export class JobManager {
  private readonly jobs = new Map<string, Job>();
  private readonly running = new Map<string, { abort: AbortController; done: Promise<void>; skipCheckpoint: boolean }>();
  private readonly bus = new EventEmitter();
  private readonly sequences = new Map<string, bigint>();
  private readonly byRequestId = new Map<string, string>();
  /** Every job's checkpoints: <store root>/checkpoints/<job id>/v<version>. */
  readonly checkpoints: CheckpointStore;
  /** The default evaluator address (--evaluator) for jobs with EvalConfig.tasks that name none. */
  readonly defaultEvaluator?: string;

  constructor(
    private readonly store: JobStore,
    private readonly runners: Partial<Record<Algorithm, JobRunner>>,
    private readonly log: { warn(msg: string, f?: object): void; info(msg: string, f?: object): void; error(msg: string, f?: object): void },
    o: { checkpoints?: CheckpointStore; evaluator?: string } = {},
  ) {
    this.checkpoints = o.checkpoints ?? CheckpointStore.open(join(store.root, 'checkpoints'));
    this.defaultEvaluator = o.evaluator || undefined;
    this.bus.setMaxListeners(0);
    for (const job of store.loadAll((id, e) => log.warn('unreadable job record skipped', { job_id: id, error: e.message }))) {
      this.jobs.set(job.id, job);
      const events = store.events(job.id);
      this.sequences.set(job.id, events.at(-1)?.sequence ?? 0n);
    }
  }

  hasRunner(a: Algorithm): boolean {
    return this.runners[a] !== undefined;
  }

  /** Restarts jobs that were running or pending when the process stopped. */
  resumeInterrupted(): void {
    for (const job of this.jobs.values()) {
      if (job.state === JobState.RUNNING || job.state === JobState.PENDING || job.state === JobState.CANCELLING) {
        this.log.info('resuming job interrupted by a trainer restart', { job_id: job.id });
        this.launch(job, true, 'trainer restarted: resuming from the last checkpoint');
      }
    }
  }

  get(id: string): Job | undefined {
    return this.jobs.get(id);
  }

  list(): Job[] {
    return [...this.jobs.values()].sort((a, b) => (a.id < b.id ? 1 : -1));
  }

  findByRequestId(requestId: string): Job | undefined {
    const id = this.byRequestId.get(requestId);
    return id ? this.jobs.get(id) : undefined;
  }

  start(spec: JobSpec, init: { configSha256: string; dataFiles: Job['dataFiles']; modelFiles?: Job['modelFiles']; requestId?: string; trainerVersion: string }): Job {
    // Time-ordered ids: listings sort newest first without a separate index.
    const id = `${Date.now().toString(36).padStart(9, '0')}-${randomBytes(3).toString('hex')}`;
    const job = create(JobSchema, {
      id,
      spec,
      state: JobState.PENDING,
      configSha256: init.configSha256,
      dataFiles: init.dataFiles,
      modelFiles: init.modelFiles ?? [],
      createdAt: timestampNow(),
      updatedAt: timestampNow(),
      trainerVersion: init.trainerVersion,
    });
    this.jobs.set(id, job);
    if (init.requestId) this.byRequestId.set(init.requestId, id);
    this.store.save(job);
    this.launch(job, false, 'job accepted');
    return job;
  }

  cancel(job: Job, reason: string, skipCheckpoint = false): Job {
    if (TERMINAL.has(job.state)) return job;
    const run = this.running.get(job.id);
    if (run) run.skipCheckpoint = skipCheckpoint;
    this.setState(job, JobState.CANCELLING, `cancelled by client${reason ? `: ${reason}` : ''}`);
    if (run) run.abort.abort(new JobAbort('cancel', `cancelled: ${reason}`));
    else this.setState(job, JobState.CANCELLED, 'cancelled before it ran');
    return job;
  }

  /** Stops a running job for a typed reason (job-abort.ts); a job that is not running is left as it is. */
  abort(job: Job, reason: JobAbort): void {
    this.running.get(job.id)?.abort.abort(reason);
  }

  resume(job: Job, checkpointVersion?: number): Job {
    if (this.running.has(job.id)) return job;
    job.error = undefined;
    this.launch(job, true, checkpointVersion ? `resumed by client from checkpoint v${checkpointVersion}` : 'resumed by client', checkpointVersion);
    return job;
  }

  /** Stored events (when fromBeginning), then live ones, until the job reaches a terminal state. */
  async *watch(job: Job, o: { fromBeginning: boolean; afterSequence: bigint; omitLogs: boolean; signal: AbortSignal }): AsyncGenerator<WatchJobResponse> {
    // Subscribe before replaying so no event falls between the two.
    const live = on(this.bus, job.id, { signal: o.signal });
    let last = o.afterSequence;
    const keep = (e: WatchJobResponse) => !(o.omitLogs && e.event.case === 'log');
    if (o.fromBeginning) {
      for (const e of this.store.events(job.id)) {
        if (e.sequence > last && keep(e)) yield e;
        last = e.sequence > last ? e.sequence : last;
      }
    } else {
      yield create(WatchJobResponseSchema, {
        sequence: this.sequences.get(job.id) ?? 0n,
        time: timestampNow(),
        jobId: job.id,
        event: { case: 'stateChange', value: { from: job.state, to: job.state, reason: 'current state' } },
      });
      last = this.sequences.get(job.id) ?? 0n;
    }
    if (TERMINAL.has(job.state) && !this.running.has(job.id)) return;
    try {
      for await (const [e] of live as AsyncIterable<[WatchJobResponse]>) {
        if (e.sequence <= last) continue;
        last = e.sequence;
        if (keep(e)) yield e;
        if (e.event.case === 'stateChange' && TERMINAL.has(e.event.value.to)) return;
      }
    } catch (e) {
      if ((e as Error).name !== 'AbortError') throw e;
    }
  }

  /** Lets running jobs stop at their next step boundary (they checkpoint), for a graceful shutdown. */
  async stopAll(): Promise<void> {
    for (const r of this.running.values()) r.abort.abort(new JobAbort('shutdown', 'trainer shutting down'));
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  emit(job: Job, event: JobEvent): void {
    const sequence = (this.sequences.get(job.id) ?? 0n) + 1n;
    this.sequences.set(job.id, sequence);
    const msg = create(WatchJobResponseSchema, { sequence, time: timestampNow(), jobId: job.id, event });
    this.store.appendEvent(job.id, msg);
    this.bus.emit(job.id, msg);
  }

  private setState(job: Job, to: JobState, reason: string): void {
    const from = job.state;
    job.state = to;
    job.updatedAt = timestampNow();
    if (to === JobState.RUNNING && !job.startedAt) job.startedAt = timestampNow();
    if (TERMINAL.has(to)) job.finishedAt = timestampNow();
    this.store.save(job);
    this.emit(job, { case: 'stateChange', value: { from, to, reason } });
  }

  private launch(job: Job, resuming: boolean, reason: string, checkpointVersion?: number): void {
    const runner = this.runners[job.spec!.algorithm];
    const abort = new AbortController();
    job.attempts += 1;
    job.finishedAt = undefined;
    this.setState(job, JobState.RUNNING, reason);
    const ctx: RunContext = {
      job,
      checkpoints: this.checkpoints,
      jobDir: this.store.jobDir(job.id),
      resuming,
      evaluator: this.defaultEvaluator,
      checkpointVersion,
      skipCheckpointOnStop: () => this.running.get(job.id)?.skipCheckpoint ?? false,
      signal: abort.signal,
      emit: (e) => this.emit(job, e),
      save: () => {
        job.updatedAt = timestampNow();
        this.store.save(job);
      },
    };
    const done = (async () => {
      try {
        if (!runner) throw new StatusError('UNIMPLEMENTED', `no runner for ${Algorithm[job.spec!.algorithm]} in this trainer`, { retryable: false });
        await runner(ctx);
        if (abort.signal.aborted) this.finishAborted(job, abort.signal);
        else this.setState(job, JobState.SUCCEEDED, 'finished');
      } catch (e) {
        if (abort.signal.aborted) this.finishAborted(job, abort.signal);
        else this.fail(job, e);
      } finally {
        this.running.delete(job.id);
      }
    })();
    this.running.set(job.id, { abort, done, skipCheckpoint: false });
  }

  /** The one place any error becomes the job's error (Job.error: status name, message, retryable). */
  private fail(job: Job, e: unknown): void {
    const detail = jobErrorOf(e);
    job.error = detail;
    this.log.error('job failed', { job_id: job.id, code: detail.code, error: detail.message, stack: (e as Error | undefined)?.stack });
    this.emit(job, { case: 'error', value: detail });
    this.setState(job, JobState.FAILED, detail.message);
  }

  private finishAborted(job: Job, signal: AbortSignal): void {
    const why = abortOf(signal);
    // A shutdown leaves the job RUNNING on disk, so the next trainer process resumes it.
    if (why.kind === 'shutdown') return;
    if (why.kind === 'timeout') this.fail(job, new StatusError('DEADLINE_EXCEEDED', why.message, { retryable: true }));
    else this.setState(job, JobState.CANCELLED, why.message);
  }
}

/** Any thrown value as a job error: its gRPC status by name and whether ResumeJob may succeed (statusOf). */
export function jobErrorOf(e: unknown): ErrorDetail {
  const st = statusOf(e);
  return create(ErrorDetailSchema, { code: st.name, message: st.message, retryable: st.retryable });
}
