// Checkpoint errors name the file (and tensor) and carry the gRPC status name a service answers with,
// so this lib needs no gRPC dependency and services map the string to their status enum.
export type CheckpointStatus = 'NOT_FOUND' | 'INVALID_ARGUMENT' | 'DATA_LOSS' | 'FAILED_PRECONDITION' | 'ALREADY_EXISTS';

export class CheckpointError extends Error {
  constructor(
    readonly grpcCode: CheckpointStatus,
    message: string,
  ) {
    super(message);
    this.name = 'CheckpointError';
  }
}
