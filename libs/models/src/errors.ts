// Errors of model loading carry the gRPC status a service should answer with (`grpcCode`), so the
// services map them without this library depending on gRPC.
export type StatusName = 'NOT_FOUND' | 'INVALID_ARGUMENT' | 'FAILED_PRECONDITION' | 'DATA_LOSS' | 'RESOURCE_EXHAUSTED';

export class ModelLoadError extends Error {
  constructor(
    readonly grpcCode: StatusName,
    message: string,
  ) {
    super(message);
    this.name = 'ModelLoadError';
  }
}
