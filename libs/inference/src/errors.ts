// A request item this library cannot compute, naming the field; services turn it into
// INVALID_ARGUMENT with that field (the library does not depend on gRPC).
export class InputError extends Error {
  readonly grpcCode = 'INVALID_ARGUMENT';

  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super(`invalid field "${field}": ${problem}`);
    this.name = 'InputError';
  }
}
