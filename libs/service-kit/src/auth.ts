// Bearer-token authorization for every RPC a role serves, checked in one grpc-js server interceptor so no
// handler can forget it and an unauthenticated caller is refused before its request bytes are decoded.
// Health and reflection stay open: probes and grpcurl's `list` carry no token and reveal nothing private.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { ConfigError } from './config.js';
import { ServiceError } from './errors.js';
import type { Logger } from './logger.js';

export type Scope = 'read' | 'write';
const SCOPES: readonly Scope[] = ['read', 'write'];

/**
 * The scope each juice RPC needs, keyed by `package.Service/Method`. `write` = the call changes state or
 * starts work (weights, jobs, runs); `read` = it only answers (sampling and scoring change nothing).
 * A method missing here needs `write` (fail closed); the unit test checks every RPC of every juice service
 * is listed, so a new RPC is classified on purpose.
 */
export const METHOD_SCOPES: Readonly<Record<string, Scope>> = {
  'juice.v1.GeneratorService/Generate': 'read',
  'juice.v1.GeneratorService/GenerateStream': 'read',
  'juice.v1.GeneratorService/ScoreCompletions': 'read',
  'juice.v1.GeneratorService/GetModelInfo': 'read',
  'juice.v1.GeneratorService/GetWeightVersion': 'read',
  'juice.v1.GeneratorService/PushWeights': 'write',
  'juice.v1.GeneratorService/ActivateWeights': 'write',
  'juice.v1.GeneratorService/RemoveAdapter': 'write',
  'juice.v1.RewardModelService/Score': 'read',
  'juice.v1.RewardModelService/Compare': 'read',
  'juice.v1.RewardModelService/GetModelInfo': 'read',
  'juice.v1.RewardModelService/GetWeightVersion': 'read',
  'juice.v1.RewardModelService/PushWeights': 'write',
  'juice.v1.RewardModelService/ActivateWeights': 'write',
  'juice.v1.TrainerService/StartJob': 'write',
  'juice.v1.TrainerService/GetJob': 'read',
  'juice.v1.TrainerService/ListJobs': 'read',
  'juice.v1.TrainerService/CancelJob': 'write',
  'juice.v1.TrainerService/ResumeJob': 'write',
  'juice.v1.TrainerService/WatchJob': 'read',
  'juice.v1.TrainerService/ListCheckpoints': 'read',
  'juice.v1.EvaluatorService/Evaluate': 'write',
  'juice.v1.EvaluatorService/WatchRun': 'read',
  'juice.v1.EvaluatorService/GetReport': 'read',
  'juice.v1.EvaluatorService/ListRuns': 'read',
  'juice.v1.EvaluatorService/CancelRun': 'write',
  'juice.v1.EvaluatorService/ListTasks': 'read',
};

/** Services answered without a token (kubelet / load-balancer probes, grpcurl discovery). */
export const OPEN_SERVICES: readonly string[] = ['grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'];

/** Tokens shorter than this are refused at startup: a guessable token is no authentication. */
export const MIN_TOKEN_LENGTH = 16;

const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest();

/** The tokens a role accepts, kept only as SHA-256 digests. */
export class TokenTable {
  private constructor(private readonly entries: readonly { hash: Buffer; scope: Scope }[]) {}

  /**
   * One `TOKEN SCOPE` pair per line (scope `read` or `write`); blank lines and lines starting with `#` are
   * skipped. Anything else is an error naming the source and line, never echoing the token.
   */
  static parse(text: string, source: string): TokenTable {
    const entries: { hash: Buffer; scope: Scope }[] = [];
    const seen = new Set<string>();
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const where = `${source} line ${i + 1}`;
      const parts = line.split(/\s+/);
      if (parts.length !== 2) throw new ConfigError(`${where}: expected "TOKEN SCOPE" (two words), got ${parts.length} word(s)`);
      const [token, scope] = parts as [string, string];
      if (!SCOPES.includes(scope as Scope)) throw new ConfigError(`${where}: scope must be read or write, got ${JSON.stringify(scope.slice(0, 20))}`);
      if (token.length < MIN_TOKEN_LENGTH) throw new ConfigError(`${where}: the token is ${token.length} characters; use at least ${MIN_TOKEN_LENGTH} (e.g. openssl rand -hex 32)`);
      const hash = digest(token);
      const key = hash.toString('hex');
      if (seen.has(key)) throw new ConfigError(`${where}: the same token is listed twice`);
      seen.add(key);
      entries.push({ hash, scope: scope as Scope });
    });
    if (entries.length === 0) throw new ConfigError(`${source}: no tokens (one "TOKEN SCOPE" pair per line)`);
    return new TokenTable(entries);
  }

  static fromFile(path: string): TokenTable {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new ConfigError(`--auth-tokens: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    return TokenTable.parse(text, `--auth-tokens ${path}`);
  }

  get size(): number {
    return this.entries.length;
  }

  /**
   * The scope of a presented token, or undefined. Compares fixed-length digests with timingSafeEqual and
   * visits every entry, so neither the token's length nor which entry matched shows in the timing.
   */
  scopeOf(token: string): Scope | undefined {
    const presented = digest(token);
    let found: Scope | undefined;
    for (const e of this.entries) if (timingSafeEqual(presented, e.hash)) found = e.scope;
    return found;
  }
}

/** The scope a method path (`/pkg.Service/Method` or `pkg.Service/Method`) needs; unknown methods need write. */
export function requiredScope(path: string, scopes: Readonly<Record<string, Scope>> = METHOD_SCOPES): Scope {
  return scopes[path.replace(/^\//, '')] ?? 'write';
}

export function isOpenMethod(path: string): boolean {
  const service = path.replace(/^\//, '').split('/')[0] ?? '';
  return OPEN_SERVICES.includes(service);
}

/** The token of an `authorization: Bearer TOKEN` header, or undefined (absent, other scheme, several). */
export function bearerToken(metadata: grpc.Metadata): string | undefined {
  const values = metadata.get('authorization');
  if (values.length !== 1 || typeof values[0] !== 'string') return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(values[0]);
  return m?.[1];
}

export interface AuthOptions {
  tokens: TokenTable;
  /** Defaults to METHOD_SCOPES. */
  scopes?: Readonly<Record<string, Scope>>;
}

/** Why a call may not proceed, or undefined when it may. Pure, so it is unit-tested without a server. */
export function authorize(path: string, metadata: grpc.Metadata, opts: AuthOptions): ServiceError | undefined {
  if (isOpenMethod(path)) return undefined;
  const method = path.replace(/^\//, '');
  const token = bearerToken(metadata);
  if (token === undefined) {
    return new ServiceError(grpc.status.UNAUTHENTICATED, `${method} needs a token: send the metadata "authorization: Bearer <token>"`);
  }
  const has = opts.tokens.scopeOf(token);
  if (has === undefined) return new ServiceError(grpc.status.UNAUTHENTICATED, `${method}: the token is not known to this server`);
  const needs = requiredScope(method, opts.scopes);
  if (needs === 'write' && has !== 'write') {
    return new ServiceError(grpc.status.PERMISSION_DENIED, `${method} changes state and needs a token with scope write; this token has scope ${has}`);
  }
  return undefined;
}

/** The grpc-js interceptor that enforces `authorize` on every call, before the request is read. */
export function authInterceptor(opts: AuthOptions, log?: Logger): grpc.ServerInterceptor {
  return (methodDescriptor, call) => {
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        const refusal = authorize(methodDescriptor.path, metadata, opts);
        if (!refusal) return next(metadata);
        log?.info('rpc refused', { method: methodDescriptor.path.slice(1), code: grpc.status[refusal.code], peer: call.getPeer() });
        call.sendStatus({ code: refusal.code, details: refusal.message });
      })
      .build();
    return new grpc.ServerInterceptingCall(call, new grpc.ResponderBuilder().withStart((next) => next(listener)).build());
  };
}
