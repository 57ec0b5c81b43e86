// TLS credentials from PEM files, and the rule that keeps a role from being exposed by accident: binding
// anything but loopback needs tokens (or an explicit --insecure).
import { readFileSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { ConfigError } from './config.js';

export interface ServerTlsFiles {
  /** PEM certificate chain the server presents. */
  cert: string;
  /** PEM private key of that certificate. */
  key: string;
  /** PEM CA bundle; when set, clients must present a certificate it signed (mutual TLS). */
  clientCa?: string;
}

export interface ClientTlsFiles {
  /** PEM CA bundle that signed the servers' certificates (default: the system roots). */
  ca?: string;
  /** PEM client certificate and key, for servers that require mutual TLS. */
  cert?: string;
  key?: string;
}

/** Reads a PEM file, naming the flag that pointed at it when it cannot be read or holds no PEM block. */
export function readPem(path: string, what: string): Buffer {
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (e) {
    throw new ConfigError(`${what}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!pem.includes('-----BEGIN ')) throw new ConfigError(`${what}: ${path} is not PEM (no "-----BEGIN" line)`);
  return pem;
}

export function serverCredentials(tls: ServerTlsFiles | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  const certChain = readPem(tls.cert, '--tls-cert');
  const privateKey = readPem(tls.key, '--tls-key');
  const ca = tls.clientCa !== undefined ? readPem(tls.clientCa, '--tls-client-ca') : null;
  // checkClientCertificate = true makes the handshake fail for a client without a certificate signed by ca.
  return grpc.ServerCredentials.createSsl(ca, [{ cert_chain: certChain, private_key: privateKey }], ca !== null);
}

export function clientCredentials(tls: ClientTlsFiles | undefined): grpc.ChannelCredentials {
  if (!tls) return grpc.credentials.createInsecure();
  if ((tls.cert === undefined) !== (tls.key === undefined)) throw new ConfigError('--peer-tls-cert and --peer-tls-key go together (a client certificate needs its key)');
  return grpc.credentials.createSsl(
    tls.ca !== undefined ? readPem(tls.ca, '--peer-tls-ca') : null,
    tls.key !== undefined ? readPem(tls.key, '--peer-tls-key') : null,
    tls.cert !== undefined ? readPem(tls.cert, '--peer-tls-cert') : null,
  );
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

/** 127.0.0.0/8, ::1 (any spelling, and ::ffff:127.x) and `localhost`: reachable from this machine only. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost') return true;
  const family = isIP(h);
  return family !== 0 && LOOPBACK.check(h, family === 6 ? 'ipv6' : 'ipv4');
}

/**
 * Secure by default: a role that listens beyond loopback must check tokens, unless the operator says
 * --insecure (e.g. behind a mesh that authenticates for it). Returns the reason it may not start, or
 * undefined.
 */
export function exposureRefusal(opts: { host: string; authenticated: boolean; insecure: boolean }): string | undefined {
  if (opts.authenticated || opts.insecure || isLoopback(opts.host)) return undefined;
  return (
    `refusing to listen on ${opts.host} without authentication: anyone who can reach the port could push weights and start jobs. ` +
    'Give --auth-tokens FILE (JUICE_AUTH_TOKENS; one "TOKEN SCOPE" pair per line, scope read or write), ' +
    'bind 127.0.0.1, or pass --insecure (JUICE_INSECURE=true) if something in front of the service authenticates callers'
  );
}

export function formatAddress(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}
