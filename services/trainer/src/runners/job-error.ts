// Errors a runner fails its job with. The job record keeps `grpcCode` (Job.error.code) and `retryable`;
// service-kit's status errors carry a numeric code the job manager does not read, so runners use these.

/** The spec is wrong (names the field and what would be valid); resuming cannot help. */
export function badSpec(field: string, message: string): Error {
  return Object.assign(new Error(`${field}: ${message}`), { grpcCode: 'INVALID_ARGUMENT', retryable: false });
}

/** Something outside the spec is missing (e.g. no peer address configured); a resume may succeed later. */
export function unmet(message: string): Error {
  return Object.assign(new Error(message), { grpcCode: 'FAILED_PRECONDITION', retryable: true });
}

/**
 * A peer's gRPC failure as the job records it: the status name (e.g. INVALID_ARGUMENT when a push does
 * not fit the receiver's model) instead of INTERNAL. Transient statuses stay retryable (ResumeJob).
 */
export function asJobError(e: unknown, statusNames: Record<number, string>): unknown {
  const err = e as Error & { code?: unknown; grpcCode?: string; retryable?: boolean };
  if (err instanceof Error && err.grpcCode === undefined && typeof err.code === 'number' && statusNames[err.code]) {
    const name = statusNames[err.code]!;
    return Object.assign(err, { grpcCode: name, retryable: err.retryable ?? ['UNAVAILABLE', 'DEADLINE_EXCEEDED', 'ABORTED', 'RESOURCE_EXHAUSTED', 'UNKNOWN'].includes(name) });
  }
  return e;
}
