// Checkpoint errors name the file (and tensor) and carry the gRPC status a service should answer with.
export type CheckpointStatus = 'NOT_FOUND' | 'INVALID_ARGUMENT' | 'DATA_LOSS' | 'FAILED_PRECONDITION';

export class CheckpointError extends Error {
  constructor(
    readonly grpcCode: CheckpointStatus,
    message: string,
  ) {
    super(message);
    this.name = 'CheckpointError';
  }
}
