// Errors of model loading carry the gRPC status a service should answer with, as the one StatusError
// type (@juice/proto/status-error), so services and the trainer map them without this library
// depending on gRPC. A bad model is the request's problem: never retryable.
import { StatusError } from '@juice/proto/status-error';

export type StatusName = 'NOT_FOUND' | 'INVALID_ARGUMENT' | 'FAILED_PRECONDITION' | 'DATA_LOSS' | 'RESOURCE_EXHAUSTED';

export class ModelLoadError extends StatusError {
  constructor(status: StatusName, message: string) {
    super(status, message, { retryable: status === 'RESOURCE_EXHAUSTED' });
    this.name = 'ModelLoadError';
  }

  override get grpcCode(): StatusName {
    return super.grpcCode as StatusName;
  }
}
