// Push failures carry the gRPC status the contract names (common.proto, "Weight push") as the one
// StatusError type, so the serving roles answer with it without this library depending on gRPC.
import { StatusError } from '@juice/proto/status-error';

export type PushStatus = 'INVALID_ARGUMENT' | 'DATA_LOSS' | 'FAILED_PRECONDITION' | 'ABORTED' | 'RESOURCE_EXHAUSTED' | 'NOT_FOUND' | 'DEADLINE_EXCEEDED' | 'UNAVAILABLE';

export class WeightPushError extends StatusError {
  constructor(status: PushStatus, message: string) {
    super(status, message);
    this.name = 'WeightPushError';
  }

  override get grpcCode(): PushStatus {
    return super.grpcCode as PushStatus;
  }
}
