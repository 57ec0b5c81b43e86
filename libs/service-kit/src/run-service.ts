// The one entry point every role's bin uses, so all four processes start, report and stop the same way.
import { TokenTable } from './auth.js';
import { ConfigError, HelpRequested, defineConfig, parseConfig, type ConfigOf, type ConfigSpec } from './config.js';
import { LOG_LEVELS, createLogger, type LogLevel, type Logger } from './logger.js';
import { applyPeerConfig, peerConfigSpec, type PeerConfig } from './peer.js';
import { DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_SHUTDOWN_GRACE_MS, startServer, type RunningServer, type ServiceRegistration } from './server.js';
import { startTelemetry, type TelemetryOptions } from './telemetry.js';
import { exposureRefusal, serverCredentials, type ServerTlsFiles } from './transport-security.js';

/** Flags every role has. */
export const commonConfigSpec = defineConfig({
  host: { type: 'string', flag: 'host', env: 'JUICE_HOST', default: '127.0.0.1', help: 'interface to listen on (0.0.0.0 in containers)' },
  port: { type: 'int', flag: 'port', env: 'JUICE_PORT', default: 0, min: 0, max: 65535, help: 'port to listen on; 0 picks a free one (printed on stdout)' },
  logLevel: { type: 'string', flag: 'log-level', env: 'JUICE_LOG_LEVEL', default: 'info', choices: LOG_LEVELS, help: 'minimum level of the JSON logs on stderr' },
  maxMessageBytes: {
    type: 'int',
    flag: 'max-message-bytes',
    env: 'JUICE_MAX_MESSAGE_BYTES',
    default: DEFAULT_MAX_MESSAGE_BYTES,
    min: 1024,
    help: 'largest gRPC message sent or received',
  },
  shutdownGraceMs: {
    type: 'int',
    flag: 'shutdown-grace-ms',
    env: 'JUICE_SHUTDOWN_GRACE_MS',
    default: DEFAULT_SHUTDOWN_GRACE_MS,
    min: 0,
    help: 'on SIGTERM, how long in-flight calls may finish before they are cancelled',
  },
  tlsCert: { type: 'string', flag: 'tls-cert', env: 'JUICE_TLS_CERT', help: 'serve TLS with this PEM certificate chain (with --tls-key)' },
  tlsKey: { type: 'string', flag: 'tls-key', env: 'JUICE_TLS_KEY', help: 'PEM private key of --tls-cert' },
  tlsClientCa: { type: 'string', flag: 'tls-client-ca', env: 'JUICE_TLS_CLIENT_CA', help: 'require client certificates signed by this PEM CA bundle (mutual TLS; needs --tls-cert)' },
  authTokens: {
    type: 'string',
    flag: 'auth-tokens',
    env: 'JUICE_AUTH_TOKENS',
    help: 'file of "TOKEN SCOPE" lines (scope read or write); every call but health and reflection then needs "authorization: Bearer TOKEN"',
  },
  insecure: {
    type: 'bool',
    flag: 'insecure',
    env: 'JUICE_INSECURE',
    default: false,
    help: 'allow listening beyond loopback without --auth-tokens (only behind something that authenticates callers)',
  },
  healthPort: {
    type: 'int',
    flag: 'health-port',
    env: 'JUICE_HEALTH_PORT',
    min: 0,
    max: 65535,
    help: 'also serve grpc.health.v1 alone, plaintext and without tokens, on this port (for probes that cannot do TLS)',
  },
});

export type CommonConfig = ConfigOf<typeof commonConfigSpec>;

export interface Built {
  services: ServiceRegistration[];
  /** Runs after the server stopped (all calls done): close clients, flush checkpoints. */
  onShutdown?: () => Promise<void>;
}

export interface RunServiceOptions<S extends ConfigSpec> {
  /** Role name: 'generator', 'reward-model', 'trainer', 'evaluator'. */
  name: string;
  description?: string;
  version?: string;
  /** Role-specific options; merged with commonConfigSpec (a role may not redefine those keys). */
  configSpec: S;
  build: (config: ConfigOf<S> & CommonConfig, log: Logger) => Promise<Built>;
  /** For tests; defaults to the process's. */
  argv?: readonly string[];
  env?: NodeJS.ProcessEnv;
  telemetry?: TelemetryOptions;
}

export interface ServiceHandle {
  server: RunningServer;
  log: Logger;
  /** What SIGTERM does, without exiting the process. */
  stop(): Promise<void>;
}

/**
 * Parses config (prints --help and exits 0; bad config exits 2), starts telemetry, builds the role,
 * starts the server and prints exactly one line on stdout: {"service":"<name>","listening":"host:port"}.
 * SIGTERM/SIGINT: health NOT_SERVING, stop accepting calls, let in-flight calls finish (up to the grace
 * period, then cancel them), run onShutdown, flush telemetry, exit 0. A second signal forces it.
 */
export async function runService<S extends ConfigSpec>(opts: RunServiceOptions<S>): Promise<ServiceHandle> {
  const spec = { ...commonConfigSpec, ...opts.configSpec };
  for (const key of Object.keys(opts.configSpec)) {
    if (key in commonConfigSpec) throw new Error(`configSpec of ${opts.name} redefines the common option "${key}"`);
  }

  let config: ConfigOf<S> & CommonConfig;
  try {
    config = parseConfig(spec, opts.argv ?? process.argv.slice(2), opts.env ?? process.env, {
      name: opts.name,
      description: opts.description,
    }) as ConfigOf<S> & CommonConfig;
  } catch (e) {
    if (e instanceof HelpRequested) {
      process.stdout.write(e.text);
      process.exit(0);
    }
    if (e instanceof ConfigError) {
      process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level: 'error', service: opts.name, msg: e.message }) + '\n');
      process.exit(2);
    }
    throw e;
  }

  let security: ReturnType<typeof serverSecurity>;
  try {
    security = serverSecurity(config);
    // Roles that call others declare peerConfigSpec; their clients pick these credentials up.
    if (Object.keys(opts.configSpec).some((k) => k in peerConfigSpec)) applyPeerConfig(config as Partial<PeerConfig>);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level: 'error', service: opts.name, msg: e.message }) + '\n');
    process.exit(2);
  }

  const log = createLogger(opts.name, config.logLevel as LogLevel);
  process.on('unhandledRejection', (reason) => {
    log.error('unhandled promise rejection', { error: reason instanceof Error ? reason : String(reason) });
    process.exit(1);
  });
  process.on('uncaughtException', (err) => {
    log.error('uncaught exception', { error: err });
    process.exit(1);
  });

  const telemetry = startTelemetry(opts.name, { env: opts.env, ...opts.telemetry });
  let built: Built;
  let server: RunningServer;
  try {
    built = await opts.build(config, log);
    server = await startServer({
      name: opts.name,
      services: built.services,
      host: config.host,
      port: config.port,
      maxMessageBytes: config.maxMessageBytes,
      shutdownGraceMs: config.shutdownGraceMs,
      version: opts.version,
      log,
      ...security,
    });
  } catch (e) {
    log.error('failed to start', { error: e instanceof Error ? e : String(e) });
    await telemetry.shutdown();
    process.exit(1);
  }

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await server.shutdown(config.shutdownGraceMs);
      try {
        await built.onShutdown?.();
      } catch (e) {
        log.error('onShutdown failed', { error: e instanceof Error ? e : String(e) });
      }
      await telemetry.shutdown();
    })());

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      log.warn('second signal: cancelling in-flight calls now', { signal });
      void server.shutdown(0);
      return;
    }
    log.info('signal received, draining', { signal, in_flight: server.inFlight() });
    stop().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (e: unknown) => {
        log.error('shutdown failed', { error: e instanceof Error ? e : String(e) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  // The only stdout line: launchers wait for it and read the bound address (port 0 = ephemeral).
  process.stdout.write(JSON.stringify({ service: opts.name, listening: server.address }) + '\n');
  return { server, log, stop };
}

/**
 * TLS files, tokens and the exposure rule from the common flags, checked before the role loads anything
 * (a model can take minutes): a refusal is a configuration error, exit 2.
 */
function serverSecurity(config: CommonConfig): { tls?: ServerTlsFiles; auth?: { tokens: TokenTable }; insecure: boolean; healthPort?: number } {
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined)) {
    throw new ConfigError('--tls-cert / JUICE_TLS_CERT and --tls-key / JUICE_TLS_KEY go together (a certificate needs its key)');
  }
  if (config.tlsClientCa !== undefined && config.tlsCert === undefined) {
    throw new ConfigError('--tls-client-ca / JUICE_TLS_CLIENT_CA needs --tls-cert and --tls-key: client certificates are checked only over TLS');
  }
  const tls = config.tlsCert !== undefined && config.tlsKey !== undefined ? { cert: config.tlsCert, key: config.tlsKey, clientCa: config.tlsClientCa } : undefined;
  if (tls) serverCredentials(tls); // reads and checks the PEM files now, naming the flag
  const auth = config.authTokens !== undefined ? { tokens: TokenTable.fromFile(config.authTokens) } : undefined;
  const refusal = exposureRefusal({ host: config.host, authenticated: auth !== undefined, insecure: config.insecure });
  if (refusal) throw new ConfigError(refusal);
  return { tls, auth, insecure: config.insecure, healthPort: config.healthPort };
}
