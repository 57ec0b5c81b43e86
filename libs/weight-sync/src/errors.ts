// Push failures carry the gRPC status the contract names (common.proto, "Weight push"), by name, so the
// serving roles answer with it without this library depending on gRPC.
export type PushStatus = 'INVALID_ARGUMENT' | 'DATA_LOSS' | 'FAILED_PRECONDITION' | 'ABORTED' | 'RESOURCE_EXHAUSTED' | 'NOT_FOUND';

export class WeightPushError extends Error {
  constructor(
    readonly grpcCode: PushStatus,
    message: string,
  ) {
    super(message);
    this.name = 'WeightPushError';
  }
}
