// grpc.health.v1.Health for '' (the whole server) and each served service, via grpc-health-check.
import type * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';

export type ServingStatus = 'SERVING' | 'NOT_SERVING';

export interface HealthControl {
  setStatus(service: string, status: ServingStatus): void;
}

export interface ServerHealth extends HealthControl {
  addToServer(server: grpc.Server): void;
  /** Every known service, '' included. */
  setAll(status: ServingStatus): void;
  /** Ends open Watch streams (after they saw NOT_SERVING): they never finish on their own and would hold
   *  a graceful shutdown until the grace period ran out. */
  endWatches(): void;
}

export function createHealth(serviceNames: string[]): ServerHealth {
  const known = new Set(['', ...serviceNames]);
  const impl = new HealthImplementation(Object.fromEntries([...known].map((n) => [n, 'SERVING' as const])));
  const watches = new Set<grpc.ServerWritableStream<unknown, unknown>>();
  return {
    setStatus(service, status) {
      known.add(service);
      impl.setStatus(service, status);
    },
    setAll(status) {
      for (const name of known) impl.setStatus(name, status);
    },
    endWatches() {
      for (const call of watches) call.end();
      watches.clear();
    },
    addToServer(server) {
      impl.addToServer({
        addService(definition, handlers) {
          const watch = handlers.watch as (call: grpc.ServerWritableStream<unknown, unknown>) => void;
          server.addService(definition as grpc.ServiceDefinition, {
            ...handlers,
            watch: (call: grpc.ServerWritableStream<unknown, unknown>) => {
              watches.add(call);
              call.on('cancelled', () => watches.delete(call));
              watch(call);
            },
          } as grpc.UntypedServiceImplementation);
        },
      });
    },
  };
}
