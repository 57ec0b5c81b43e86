// Errors a runner fails its job with, as the one StatusError type (@juice/proto): the job manager
// records any thrown error through statusOf (job-manager.ts, jobErrorOf), so a runner may equally throw
// a library's error, a peer's gRPC status or service-kit's ServiceError and the job keeps its status.
import { badField, preconditionFailed, StatusError } from '@juice/proto';

/** The spec is wrong (names the field and what would be valid); resuming cannot help. */
export const badSpec = badField;

/** Something outside the spec is missing (e.g. no peer address configured); a resume may succeed later. */
export const unmet = (message: string): StatusError => preconditionFailed(message, true);

/** A stored checkpoint does not fit this job (another algorithm's state, a changed dataset): resuming it cannot help. */
export const unusableCheckpoint = (message: string): StatusError => new StatusError('FAILED_PRECONDITION', message, { retryable: false });

/** A checkpoint lacks what its trainer state promises. */
export const lostState = (message: string): StatusError => new StatusError('DATA_LOSS', message, { retryable: false });
