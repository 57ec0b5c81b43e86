// Checkpoint errors name the file (and tensor) and carry the gRPC status as the one StatusError type
// (@juice/proto/status-error), so this lib needs no gRPC dependency and every service maps them alike.
import { StatusError } from '@juice/proto/status-error';

export type CheckpointStatus = 'NOT_FOUND' | 'INVALID_ARGUMENT' | 'DATA_LOSS' | 'FAILED_PRECONDITION' | 'ALREADY_EXISTS';

export class CheckpointError extends StatusError {
  constructor(status: CheckpointStatus, message: string) {
    super(status, message, { retryable: false });
    this.name = 'CheckpointError';
  }

  /** The status by name, narrowed to what checkpoints answer. */
  override get grpcCode(): CheckpointStatus {
    return super.grpcCode as CheckpointStatus;
  }
}
