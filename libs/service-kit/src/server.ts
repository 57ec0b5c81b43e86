// Starts one grpc-js server with the role's services plus health and reflection, and stops it gracefully:
// NOT_SERVING first, then no new calls, then wait for in-flight calls up to a grace period, then force.
import * as grpc from '@grpc/grpc-js';
import type { DescService } from '@bufbuild/protobuf';
import { authInterceptor, type AuthOptions } from './auth.js';
import { unavailable } from './errors.js';
import { CallRegistry, serviceDefinition, type ServiceImpl } from './handlers.js';
import { createHealth, type HealthControl } from './health.js';
import { defaultLogger, type Logger } from './logger.js';
import { addReflection } from './reflection.js';
import { createRpcMetrics } from './telemetry.js';
import { exposureRefusal, formatAddress, isLoopback as isLoopbackHost, serverCredentials, type ServerTlsFiles } from './transport-security.js';

export { formatAddress };

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
  /** Serve TLS with these PEM files (mutual TLS when clientCa is set). Default plaintext. */
  tls?: ServerTlsFiles;
  /** Check bearer tokens on every call except health and reflection. */
  auth?: AuthOptions;
  /** Allow a non-loopback host without auth (something in front authenticates callers). */
  insecure?: boolean;
  /**
   * Also serve grpc.health.v1 alone, in plaintext, on this port (same host): for probes that speak
   * neither TLS nor tokens (kubelet's gRPC probe). Unset = no second listener.
   */
  healthPort?: number;
}

export interface RunningServer {
  /** host:port actually bound, e.g. 127.0.0.1:43121 ([::1]:43121 for IPv6). */
  readonly address: string;
  readonly port: number;
  readonly health: HealthControl;
  readonly server: grpc.Server;
  /** host:port of the plaintext health-only listener, when healthPort was set. */
  readonly healthAddress?: string;
  /** Calls currently being handled. */
  inFlight(): number;
  /**
   * Graceful stop: health NOT_SERVING, refuse new calls, let in-flight calls finish for up to graceMs,
   * then abort their ctx.signal and close all connections. Idempotent; a later call with a smaller
   * grace (e.g. a second SIGINT with 0) shortens the wait.
   */
  shutdown(graceMs?: number): Promise<void>;
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const log = opts.log ?? defaultLogger;
  const maxBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const defaultGrace = opts.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS;
  const refusal = exposureRefusal({ host: opts.host, authenticated: opts.auth !== undefined, insecure: opts.insecure === true });
  if (refusal) throw new Error(refusal);
  const credentials = serverCredentials(opts.tls);
  const server = new grpc.Server({
    'grpc.max_receive_message_length': maxBytes,
    'grpc.max_send_message_length': maxBytes,
    ...opts.grpcOptions,
    // Auth runs first, so an unauthenticated caller is refused before its request is even decoded.
    interceptors: [...(opts.auth ? [authInterceptor(opts.auth, log)] : []), ...(opts.grpcOptions?.interceptors ?? [])],
  });
  widenReceiveWindow(server);
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

  const port = await bind(server, opts.host, opts.port, credentials, opts.name);
  const address = formatAddress(opts.host, port);
  let healthServer: grpc.Server | undefined;
  let healthAddress: string | undefined;
  if (opts.healthPort !== undefined) {
    healthServer = new grpc.Server();
    health.addToServer(healthServer);
    try {
      healthAddress = formatAddress(opts.host, await bind(healthServer, opts.host, opts.healthPort, grpc.ServerCredentials.createInsecure(), `${opts.name} health`));
    } catch (e) {
      server.forceShutdown();
      throw e;
    }
  }
  log.info('server listening', {
    address,
    services: [...names],
    version: opts.version,
    max_message_bytes: maxBytes,
    tls: opts.tls ? (opts.tls.clientCa ? 'mutual' : 'server') : 'off',
    auth: opts.auth ? 'tokens' : 'off',
    ...(healthAddress ? { health_address: healthAddress } : {}),
  });
  if (!isLoopbackHost(opts.host)) {
    if (!opts.auth) log.warn('listening beyond loopback without authentication (--insecure): whatever is in front must authenticate callers');
    else if (!opts.tls) log.warn('tokens are checked but travel in plaintext: give --tls-cert and --tls-key');
  }

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
    healthAddress,
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
          healthServer?.forceShutdown();
          finish();
        };
        armForce(graceMs);
        server.tryShutdown((err) => {
          if (err) log.warn('graceful shutdown reported an error', { error: err.message });
          healthServer?.forceShutdown();
          log.info('server stopped');
          finish();
        });
      });
      return stopping;
    },
  };
}

/**
 * Per-stream HTTP/2 receive window and largest DATA frame the server announces. The default 64 KiB window
 * lets a weight push's sender get only 64 KiB ahead of this process's event loop, so transfer and the
 * receiver's work (checksum, decode) take turns instead of overlapping; the default 16 KiB frames cost a
 * JS 'data' event per 16 KiB (a 455 MB push: 28 000 events; with large frames the receiving process
 * spent 3.7 s of CPU instead of ~5 s). grpc-js 1.14 has no server option for either (its
 * grpc-node.flow_control_window is client-side only), so they go into the settings grpc-js hands to
 * http2.createServer when it binds; a grpc-js without that field keeps its defaults.
 */
export const SERVER_STREAM_WINDOW_BYTES = 16 << 20;
export const SERVER_MAX_FRAME_BYTES = (1 << 24) - 1;

function widenReceiveWindow(server: grpc.Server): void {
  const internals = server as unknown as { commonServerOptions?: { settings?: Record<string, unknown> } };
  const common = internals.commonServerOptions;
  if (!common) return;
  common.settings = { ...common.settings, initialWindowSize: SERVER_STREAM_WINDOW_BYTES, maxFrameSize: SERVER_MAX_FRAME_BYTES };
}

function bind(server: grpc.Server, host: string, port: number, credentials: grpc.ServerCredentials, what: string): Promise<number> {
  const bindTo = formatAddress(host, port);
  return new Promise<number>((resolve, reject) =>
    server.bindAsync(bindTo, credentials, (err, p) =>
      err ? reject(new Error(`cannot listen on ${bindTo} for ${what}: ${err.message}`, { cause: err })) : resolve(p),
    ),
  );
}
