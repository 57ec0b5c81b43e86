// The one error type of juice: a gRPC status (by name and number), a message a person can act on,
// whether trying again can help, and optional string details (e.g. the request field it blames).
// Libraries throw it without depending on gRPC; service-kit's ServiceError is a StatusError, so what a
// handler throws and what a library throws reach the caller alike; the trainer records any of them as
// a job error (Job.error.code/retryable) through statusOf, in one place.
// This file imports nothing: every package may import it ('@juice/proto/status-error') without cycles.

/** gRPC status codes by name (grpc/status.proto; the numbers are the wire values). */
export const STATUS_CODES = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export type StatusName = keyof typeof STATUS_CODES;

const NAMES = Object.fromEntries(Object.entries(STATUS_CODES).map(([k, v]) => [v, k])) as Record<number, StatusName>;

/** The name of a status number (UNKNOWN for numbers gRPC does not define). */
export const statusName = (code: number): StatusName => NAMES[code] ?? 'UNKNOWN';

/** Statuses that describe a passing condition (peer restarting, queue full, deadline): retrying can succeed. */
export const TRANSIENT_STATUSES: ReadonlySet<StatusName> = new Set<StatusName>(['UNAVAILABLE', 'DEADLINE_EXCEEDED', 'ABORTED', 'RESOURCE_EXHAUSTED', 'UNKNOWN']);

export interface StatusErrorOptions {
  /** Whether the same request (or ResumeJob) may succeed later. Default: the status is transient. */
  retryable?: boolean;
  details?: Record<string, string>;
  cause?: unknown;
}

export class StatusError extends Error {
  /** The wire number (grpc.status). */
  readonly code: number;
  readonly details: Record<string, string>;
  readonly retryable: boolean;

  constructor(status: StatusName | number, message: string, o: StatusErrorOptions = {}) {
    super(message, o.cause === undefined ? undefined : { cause: o.cause });
    this.name = 'StatusError';
    this.code = typeof status === 'number' ? status : STATUS_CODES[status];
    this.details = o.details ?? {};
    this.retryable = o.retryable ?? TRANSIENT_STATUSES.has(statusName(this.code));
  }

  /** The status name, e.g. `INVALID_ARGUMENT` (what Job.error.code records). */
  get grpcCode(): StatusName {
    return statusName(this.code);
  }

  /** Alias of grpcCode. */
  get codeName(): string {
    return this.grpcCode;
  }

  override toString(): string {
    return `${this.grpcCode}: ${this.message}`;
  }
}

/** The spec or request is wrong (names the field and what would be valid); retrying cannot help. */
export const badField = (field: string, problem: string): StatusError => new StatusError('INVALID_ARGUMENT', `${field}: ${problem}`, { retryable: false, details: { field } });

/** Something outside the request is missing (e.g. no peer configured); it may be there later. */
export const preconditionFailed = (message: string, retryable = true): StatusError => new StatusError('FAILED_PRECONDITION', message, { retryable });

/**
 * Any thrown value as a status: a StatusError as it is; an error carrying a status by name (`grpcCode`,
 * older library errors) or by number (`code`, grpc-js client errors); an abort as CANCELLED; anything
 * else INTERNAL (retryable: a bug or a passing failure the caller cannot tell apart).
 */
export function statusOf(e: unknown): { name: StatusName; code: number; message: string; retryable: boolean } {
  const err = e as { code?: unknown; grpcCode?: unknown; retryable?: unknown; message?: unknown; name?: unknown; details?: unknown } | null;
  const message = e instanceof Error ? e.message : String(e);
  const explicit = typeof err?.retryable === 'boolean' ? err.retryable : undefined;
  let name: StatusName | undefined;
  if (e instanceof StatusError) name = e.grpcCode;
  else if (typeof err?.grpcCode === 'string' && err.grpcCode in STATUS_CODES) name = err.grpcCode as StatusName;
  else if (typeof err?.code === 'number' && NAMES[err.code]) name = NAMES[err.code];
  else if (err?.name === 'AbortError') name = 'CANCELLED';
  if (!name || name === 'OK') return { name: 'INTERNAL', code: STATUS_CODES.INTERNAL, message, retryable: explicit ?? true };
  return { name, code: STATUS_CODES[name], message, retryable: explicit ?? TRANSIENT_STATUSES.has(name) };
}
