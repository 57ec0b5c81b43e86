// A request item this library cannot compute, naming the field: INVALID_ARGUMENT with that field as the
// one StatusError type (the library does not depend on gRPC).
import { StatusError } from '@juice/proto/status-error';

export class InputError extends StatusError {
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super('INVALID_ARGUMENT', `invalid field "${field}": ${problem}`, { retryable: false, details: { field } });
    this.name = 'InputError';
  }
}
