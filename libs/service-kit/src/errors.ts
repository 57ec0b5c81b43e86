// One error type crosses every service boundary: a gRPC status code, a message a user can act on, and
// optional string details. Handlers throw it; clients receive it back with the same code and details.
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { StatusError } from '@juice/proto/status-error';
import type { Logger } from './logger.js';
import { defaultLogger } from './logger.js';

// Details travel as UTF-8 JSON in a binary trailer: plain (non -bin) metadata values must be printable
// ASCII, and details may hold any text (file paths, tokens).
export const ERROR_DETAILS_TRAILER = 'juice-error-details-bin';

/**
 * The StatusError of @juice/proto/status-error (the one error type libraries and services share) with
 * the constructor handlers have always used; `instanceof StatusError` holds for it.
 */
export class ServiceError extends StatusError {
  declare readonly code: grpc.status;

  constructor(code: grpc.status, message: string, details: Record<string, string> = {}, options?: { cause?: unknown; retryable?: boolean }) {
    super(code, message, { details, cause: options?.cause, retryable: options?.retryable });
    this.name = 'ServiceError';
  }

  /** The status name, e.g. `INVALID_ARGUMENT`. */
  override get codeName(): string {
    return grpc.status[this.code] ?? `CODE_${this.code}`;
  }
}

export { StatusError, statusOf, type StatusName } from '@juice/proto/status-error';

export const invalidArgument = (field: string, problem: string, details: Record<string, string> = {}) =>
  new ServiceError(grpc.status.INVALID_ARGUMENT, `invalid field "${field}": ${problem}`, { field, ...details });
export const notFound = (message: string, details?: Record<string, string>) =>
  new ServiceError(grpc.status.NOT_FOUND, message, details);
export const alreadyExists = (message: string, details?: Record<string, string>) =>
  new ServiceError(grpc.status.ALREADY_EXISTS, message, details);
export const failedPrecondition = (message: string, details?: Record<string, string>) =>
  new ServiceError(grpc.status.FAILED_PRECONDITION, message, details);
export const resourceExhausted = (message: string, details?: Record<string, string>) =>
  new ServiceError(grpc.status.RESOURCE_EXHAUSTED, message, details);
export const unavailable = (message: string, details?: Record<string, string>) =>
  new ServiceError(grpc.status.UNAVAILABLE, message, details);
export const deadlineExceeded = (message = 'deadline exceeded', details?: Record<string, string>) =>
  new ServiceError(grpc.status.DEADLINE_EXCEEDED, message, details);
export const unimplemented = (message: string, details?: Record<string, string>) =>
  new ServiceError(grpc.status.UNIMPLEMENTED, message, details);
export const internal = (message: string, details?: Record<string, string>) =>
  new ServiceError(grpc.status.INTERNAL, message, details);
export const aborted = (message: string, details?: Record<string, string>) =>
  new ServiceError(grpc.status.ABORTED, message, details);
export const cancelled = (message = 'call cancelled', details?: Record<string, string>) =>
  new ServiceError(grpc.status.CANCELLED, message, details);

/** One problem with one request field (the shape @juice/proto's validators produce). */
export interface FieldViolation {
  field: string;
  problem: string;
}

/**
 * Throws INVALID_ARGUMENT for the first violation, if any (a person fixes one thing at a time); the
 * total count is in details.violations. Accepts a list or anything with a `list` (e.g. a Violations).
 */
export function rejectInvalid(violations: readonly FieldViolation[] | { readonly list: readonly FieldViolation[] }): void {
  const list = 'list' in violations ? violations.list : violations;
  const first = list[0];
  if (!first) return;
  throw invalidArgument(first.field, first.problem, { violations: String(list.length) });
}

/**
 * Awaits work that depends on one request field (reading the file a `path` names, resolving a model id)
 * and blames that field when it fails: a missing file becomes NOT_FOUND, an unreadable one
 * PERMISSION_DENIED, anything else INVALID_ARGUMENT, each naming the field. Aborts pass through.
 */
export async function withField<T>(field: string, work: Promise<T> | (() => Promise<T>)): Promise<T> {
  try {
    return await (typeof work === 'function' ? work() : work);
  } catch (err) {
    if (isAbortError(err)) throw err;
    if (err instanceof ServiceError) {
      if (err.details.field !== undefined) throw err;
      throw new ServiceError(err.code, `field "${field}": ${err.message}`, { ...err.details, field }, { cause: err });
    }
    const message = err instanceof Error ? err.message : String(err);
    const sysCode = (err as { code?: unknown } | null)?.code;
    const details = { field };
    const named = libraryStatus(err);
    if (named !== undefined) throw new ServiceError(named, `invalid field "${field}": ${message}`, details, { cause: err });
    if (sysCode === 'ENOENT' || sysCode === 'ENOTDIR') {
      throw new ServiceError(grpc.status.NOT_FOUND, `invalid field "${field}": ${message}`, details, { cause: err });
    }
    if (sysCode === 'EACCES' || sysCode === 'EPERM') {
      throw new ServiceError(grpc.status.PERMISSION_DENIED, `invalid field "${field}": ${message}`, details, { cause: err });
    }
    throw new ServiceError(grpc.status.INVALID_ARGUMENT, `invalid field "${field}": ${message}`, details, { cause: err });
  }
}

/**
 * Normalises anything thrown into a ServiceError. Unknown errors become INTERNAL with a generic message
 * and an error id: the stack goes to the log (under that id), never to the caller, so internals do not
 * leak but an operator can still find the cause from what the user reports.
 */
export function toServiceError(err: unknown, log: Logger = defaultLogger): ServiceError {
  if (err instanceof ServiceError) return err;
  if (err instanceof StatusError) return new ServiceError(err.code, err.message, err.details, { cause: err, retryable: err.retryable });
  const named = libraryStatus(err);
  if (named !== undefined) return new ServiceError(named, (err as Error).message, {}, { cause: err });
  if (isAbortError(err)) {
    // An abort caused by our own ctx.signal carries the real reason (deadline, cancel, shutdown).
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof ServiceError) return cause;
    return new ServiceError(grpc.status.CANCELLED, (err as Error).message || 'operation aborted', {}, { cause: err });
  }
  if (isGrpcStatusError(err)) {
    return new ServiceError(err.code, err.details || err.message, readDetails(err.metadata), { cause: err });
  }
  const errorId = randomBytes(6).toString('hex');
  const e = err instanceof Error ? err : new Error(String(err));
  log.error('unhandled error in handler', { error_id: errorId, error: e.message, stack: e.stack });
  return new ServiceError(grpc.status.INTERNAL, `internal error (error id ${errorId}); see the server log`, { error_id: errorId }, { cause: err });
}

function isAbortError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'AbortError';
}

function isGrpcStatusError(err: unknown): err is grpc.ServiceError {
  return (
    err instanceof Error &&
    typeof (err as { code?: unknown }).code === 'number' &&
    typeof (err as { details?: unknown }).details === 'string' &&
    (err as { metadata?: unknown }).metadata instanceof grpc.Metadata
  );
}

const MAX_STATUS_CHARS = 2048;

/** Server side: the status object grpc-js sends for this error, details encoded in a trailer. */
export function toGrpcStatus(err: ServiceError, trailers?: grpc.Metadata): grpc.StatusObject {
  const metadata = trailers?.clone() ?? new grpc.Metadata();
  if (Object.keys(err.details).length > 0) {
    metadata.set(ERROR_DETAILS_TRAILER, Buffer.from(JSON.stringify(err.details), 'utf8'));
  }
  // A last bound on what goes back: messages quote request data and library errors (each cut where it is
  // quoted); nothing a client sent, however large, returns whole.
  const details = err.message.length <= MAX_STATUS_CHARS ? err.message : `${err.message.slice(0, MAX_STATUS_CHARS)}… (cut from ${err.message.length} characters)`;
  return { code: err.code, details, metadata };
}

/** Client side: rebuild the ServiceError a server sent. */
export function fromGrpcError(err: unknown): ServiceError {
  if (err instanceof ServiceError) return err;
  if (isGrpcStatusError(err)) {
    return new ServiceError(err.code, err.details || err.message, readDetails(err.metadata), { cause: err });
  }
  if (err instanceof Error && typeof (err as { code?: unknown }).code === 'number') {
    return new ServiceError((err as unknown as { code: number }).code, err.message, {}, { cause: err });
  }
  return new ServiceError(grpc.status.UNKNOWN, err instanceof Error ? err.message : String(err), {}, { cause: err });
}

function readDetails(metadata: grpc.Metadata | undefined): Record<string, string> {
  const raw = metadata?.get(ERROR_DETAILS_TRAILER)[0];
  if (raw === undefined) return {};
  try {
    const parsed: unknown = JSON.parse(Buffer.isBuffer(raw) ? raw.toString('utf8') : raw);
    if (typeof parsed !== 'object' || parsed === null) return {};
    return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
  } catch {
    return {};
  }
}

/**
 * juice's libraries do not depend on gRPC; an error they mean for the caller carries the status by
 * name in `grpcCode` (e.g. a missing tensor in a checkpoint: 'NOT_FOUND'). Returns that status, if any.
 */
export function libraryStatus(err: unknown): grpc.status | undefined {
  if (!(err instanceof Error)) return undefined;
  const name = (err as { grpcCode?: unknown }).grpcCode;
  if (typeof name !== 'string' || name === 'OK') return undefined;
  const code = (grpc.status as unknown as Record<string, number>)[name];
  return typeof code === 'number' ? code : undefined;
}
