// Starts one grpc-js server with the role's services plus health and reflection, and stops it gracefully:
// NOT_SERVING first, then no new calls, then wait for in-flight calls up to a grace period, then force.
import * as grpc from '@grpc/grpc-js';
import type { DescService } from '@bufbuild/protobuf';
import { unavailable } from './errors.js';
import { CallRegistry, serviceDefinition, type ServiceImpl } from './handlers.js';
import { createHealth, type HealthControl } from './health.js';
import { defaultLogger, type Logger } from './logger.js';
import { addReflection } from './reflection.js';
import { createRpcMetrics } from './telemetry.js';

export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;

export interface ServiceRegistration {
  desc: DescService;
  /** Partial<ServiceImpl<typeof desc>>; typed at the call site (see ServiceImpl). */
  impl: object;
}

/** A registration whose impl is type-checked against the descriptor (a plain object literal is not). */
export function defineService<S extends DescService>(desc: S, impl: Partial<ServiceImpl<S>>): ServiceRegistration {
  return { desc, impl };
}

export interface ServerOptions {
  /** Role name, e.g. 'generator'; used in logs. */
  name: string;
  services: ServiceRegistration[];
  host: string;
  /** 0 = any free port; read the chosen one from RunningServer.port. */
  port: number;
  /** Max size of one message in either direction. Default 64 MiB (weight chunks, long batches). */
  maxMessageBytes?: number;
  shutdownGraceMs?: number;
  version?: string;
  log?: Logger;
  /** Serve grpc.reflection (default true). */
  reflection?: boolean;
  /** Extra grpc-js server options (keepalive tuning etc.). */
  grpcOptions?: grpc.ServerOptions;
}

export interface RunningServer {
  /** host:port actually bound, e.g. 127.0.0.1:43121 ([::1]:43121 for IPv6). */
  readonly address: string;
  readonly port: number;
  readonly health: HealthControl;
  readonly server: grpc.Server;
  /** Calls currently being handled. */
  inFlight(): number;
  /**
   * Graceful stop: health NOT_SERVING, refuse new calls, let in-flight calls finish for up to graceMs,
   * then abort their ctx.signal and close all connections. Idempotent; a later call with a smaller
   * grace (e.g. a second SIGINT with 0) shortens the wait.
   */
  shutdown(graceMs?: number): Promise<void>;
}

export function formatAddress(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const log = opts.log ?? defaultLogger;
  const maxBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const defaultGrace = opts.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS;
  const server = new grpc.Server({
    'grpc.max_receive_message_length': maxBytes,
    'grpc.max_send_message_length': maxBytes,
    ...opts.grpcOptions,
  });
  const calls = new CallRegistry();
  const metrics = createRpcMetrics();
  const names = new Set<string>();
  for (const { desc, impl } of opts.services) {
    if (names.has(desc.typeName)) throw new Error(`service ${desc.typeName} is registered twice in server "${opts.name}"`);
    names.add(desc.typeName);
    const { definition, handlers } = serviceDefinition(desc, impl, { log, calls, metrics });
    server.addService(definition, handlers);
  }
  const health = createHealth([...names]);
  health.addToServer(server);
  if (opts.reflection !== false) addReflection(server, opts.services.map((s) => s.desc));

  const bindTo = formatAddress(opts.host, opts.port);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(bindTo, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(new Error(`cannot listen on ${bindTo} for ${opts.name}: ${err.message}`, { cause: err })) : resolve(p),
    ),
  );
  const address = formatAddress(opts.host, port);
  log.info('server listening', { address, services: [...names], version: opts.version, max_message_bytes: maxBytes });

  let stopping: Promise<void> | undefined;
  let forceNow: (() => void) | undefined;
  let forceTimer: NodeJS.Timeout | undefined;
  const armForce = (graceMs: number) => {
    clearTimeout(forceTimer);
    forceTimer = setTimeout(() => forceNow?.(), Math.max(0, graceMs));
  };

  return {
    address,
    port,
    server,
    health,
    inFlight: () => calls.size,
    shutdown(graceMs = defaultGrace) {
      if (stopping) {
        armForce(graceMs);
        return stopping;
      }
      stopping = new Promise<void>((resolve) => {
        log.info('shutting down', { in_flight: calls.size, grace_ms: graceMs });
        health.setAll('NOT_SERVING');
        health.endWatches();
        let finished = false;
        const finish = () => {
          if (finished) return;
          finished = true;
          clearTimeout(forceTimer);
          resolve();
        };
        forceNow = () => {
          if (finished) return;
          log.warn('shutdown grace period over; cancelling in-flight calls', { in_flight: calls.size });
          calls.abortAll(unavailable(`server "${opts.name}" is shutting down`));
          server.forceShutdown();
          finish();
        };
        armForce(graceMs);
        server.tryShutdown((err) => {
          if (err) log.warn('graceful shutdown reported an error', { error: err.message });
          log.info('server stopped');
          finish();
        });
      });
      return stopping;
    },
  };
}
