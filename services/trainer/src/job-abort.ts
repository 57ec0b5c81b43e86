// Why a running job was stopped, as a typed abort reason: the job manager decides what the stop means
// from `kind`, never from a message. A shutdown leaves the job RUNNING on disk (the next trainer
// process resumes it); a cancel ends it CANCELLED; a timeout ends it FAILED with DEADLINE_EXCEEDED
// (retryable: ResumeJob continues from the last checkpoint).
export type JobAbortKind = 'shutdown' | 'cancel' | 'timeout';

export class JobAbort extends Error {
  constructor(
    readonly kind: JobAbortKind,
    message: string,
  ) {
    super(message);
    this.name = 'JobAbort';
  }
}

/** The typed reason of an aborted signal (an untyped abort counts as a cancel). */
export function abortOf(signal: AbortSignal): JobAbort {
  const r = signal.reason as unknown;
  return r instanceof JobAbort ? r : new JobAbort('cancel', r instanceof Error ? r.message : 'aborted');
}
