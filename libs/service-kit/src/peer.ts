// How this process reaches other roles: TLS (optionally with a client certificate for mTLS) and the
// bearer token it presents. Set once per process from flags, because clients are created deep inside
// job runners and evaluation runs from addresses that arrive in requests; every createClient that is not
// given explicit credentials uses these.
import { readFileSync } from 'node:fs';
import type * as grpc from '@grpc/grpc-js';
import { ConfigError, defineConfig, type ConfigOf } from './config.js';
import { clientCredentials } from './transport-security.js';

/** Flags of any process that calls juice roles (the trainer, the evaluator, the `juice` CLI). */
export const peerConfigSpec = defineConfig({
  peerTlsCa: { type: 'string', flag: 'peer-tls-ca', env: 'JUICE_PEER_TLS_CA', help: 'call other roles over TLS, trusting this PEM CA bundle' },
  peerTlsCert: { type: 'string', flag: 'peer-tls-cert', env: 'JUICE_PEER_TLS_CERT', help: 'PEM client certificate presented to roles that require mutual TLS (with --peer-tls-key)' },
  peerTlsKey: { type: 'string', flag: 'peer-tls-key', env: 'JUICE_PEER_TLS_KEY', help: 'PEM private key of --peer-tls-cert' },
  peerTokenFile: { type: 'string', flag: 'peer-token-file', env: 'JUICE_PEER_TOKEN_FILE', help: 'file holding the bearer token sent to other roles (first non-empty line)' },
});

export type PeerConfig = ConfigOf<typeof peerConfigSpec>;

export interface PeerSecurity {
  credentials?: grpc.ChannelCredentials;
  metadata?: Record<string, string>;
}

let defaults: PeerSecurity = {};

/** What createClient uses when a caller passes no credentials (and merges under its metadata). */
export function clientDefaults(): PeerSecurity {
  return defaults;
}

export function setClientDefaults(security: PeerSecurity): void {
  defaults = security;
}

/** Reads the first non-empty, non-comment line of a token file. */
export function readTokenFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`--peer-token-file: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const line = text.split(/\r?\n/).map((l) => l.trim()).find((l) => l !== '' && !l.startsWith('#'));
  if (line === undefined) throw new ConfigError(`--peer-token-file: ${path} holds no token`);
  // A tokens file (TOKEN SCOPE) given by mistake: send the token, not "TOKEN SCOPE".
  const token = line.split(/\s+/)[0]!;
  return token;
}

/** Credentials and metadata from the peer flags; plaintext without a token when none is set. */
export function peerSecurity(config: Partial<PeerConfig>): PeerSecurity {
  const tls = config.peerTlsCa !== undefined || config.peerTlsCert !== undefined || config.peerTlsKey !== undefined;
  return {
    credentials: tls ? clientCredentials({ ca: config.peerTlsCa, cert: config.peerTlsCert, key: config.peerTlsKey }) : undefined,
    metadata: config.peerTokenFile !== undefined ? { authorization: `Bearer ${readTokenFile(config.peerTokenFile)}` } : undefined,
  };
}

/** peerSecurity, installed as this process's client defaults. */
export function applyPeerConfig(config: Partial<PeerConfig>): PeerSecurity {
  const security = peerSecurity(config);
  setClientDefaults(security);
  return security;
}
