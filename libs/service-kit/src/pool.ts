// A role served by many replicas, called as one: an endpoint is a list of addresses and/or
// `dns:///name:port` names, each name resolved to EVERY address it has (a headless Service) and
// re-resolved while running. One client per replica (createClient, so the process's peer TLS/token
// apply), a per-replica in-flight count (its queue depth as this process sees it), and health: a replica
// that fails a call is set aside, its share of the work is redone on the others, and the pool goes on with
// fewer replicas and says so (onEvent). A replica (new, or back after a failure) receives work only after
// `admit` succeeded for it — the caller's hook to bring it to the pool's weight version first.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { DescService } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { createClient, type Client, type ClientControls, type ClientOptions } from './client.js';
import { ServiceError } from './errors.js';

export type PoolClient<S extends DescService> = Client<S> & ClientControls;

export interface Replica<S extends DescService> {
  readonly address: string;
  readonly client: PoolClient<S>;
  /** Calls this process has open on the replica now. */
  inFlight: number;
  /** 'pending': not admitted yet; 'ready': takes work; 'down': failed, re-admitted on the next refresh. */
  state: 'pending' | 'ready' | 'down';
  /** Work items (prompts, sequences) this replica completed, and calls that failed on it. */
  items: number;
  failures: number;
}

export interface PoolEvent {
  kind: 'joined' | 'ready' | 'down' | 'left';
  address: string;
  /** Replicas taking work after this event. */
  ready: number;
  /** Addresses known (resolved) after this event. */
  known: number;
  reason?: string;
}

export interface PoolOptions<S extends DescService> extends ClientOptions {
  /** Re-resolve dns:/// names this often (ms). Default 10 000; 0 = only on failure and refresh(). */
  reresolveMs?: number;
  /** Brings a replica into service (e.g. pushes the current weights); throwing keeps it out. */
  admit?: (replica: Replica<S>) => Promise<void>;
  /** Joins, admissions, failures and departures: the caller logs them and keeps a metric. */
  onEvent?: (e: PoolEvent) => void;
  /** Name → addresses. Default: node's resolver (getaddrinfo), every A/AAAA record. */
  resolveName?: (host: string) => Promise<string[]>;
}

/** Splits endpoint entries (each may hold comma-separated addresses) into one list. */
export function endpointList(entries: readonly (string | undefined)[]): string[] {
  return entries.flatMap((e) => (e ?? '').split(',')).map((s) => s.trim()).filter((s) => s !== '');
}

const DNS = /^dns:(?:\/\/[^/]*)?\/+([^/:]+|\[[^\]]+\]):(\d+)$/;

function hostPort(host: string, port: string): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

async function defaultResolve(host: string): Promise<string[]> {
  const all = await lookup(host, { all: true });
  return all.map((a) => a.address);
}

/** Every address of the endpoint entries; dns:/// names expanded, duplicates removed, order kept. */
export async function resolveEndpoints(entries: readonly string[], resolveName: (host: string) => Promise<string[]> = defaultResolve): Promise<string[]> {
  const out = new Set<string>();
  for (const e of entries) {
    const m = DNS.exec(e);
    if (!m) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(e) && !/^[^:]+:\d+$/.test(e) && !e.startsWith('[')) throw new ServiceError(grpc.status.INVALID_ARGUMENT, `endpoint "${e}": expected host:port or dns:///name:port`);
      out.add(e);
      continue;
    }
    const [, host, port] = m;
    for (const a of await resolveName(host!.replace(/^\[|\]$/g, ''))) out.add(hostPort(a, port!));
  }
  return [...out];
}

/** Failures that say the replica (not the request) is the problem: set it aside and go elsewhere. */
export function isReplicaFailure(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  if (code === grpc.status.UNAVAILABLE || code === grpc.status.DEADLINE_EXCEEDED || code === grpc.status.CANCELLED || code === grpc.status.RESOURCE_EXHAUSTED) return true;
  // A replica that restarted lost the pushed weights: it must be admitted again before it serves.
  return code === grpc.status.FAILED_PRECONDITION && /min_weight_version|no model/.test((e as Error).message ?? '');
}

export class ServicePool<S extends DescService> {
  private readonly byAddress = new Map<string, Replica<S>>();
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private closed = false;
  private lastRefresh = 0;

  private constructor(
    private readonly desc: S,
    private readonly entries: readonly string[],
    private readonly opts: PoolOptions<S>,
  ) {}

  /** Resolves the endpoints, creates the clients and admits every replica it can (none admitted → UNAVAILABLE). */
  static async open<S extends DescService>(desc: S, entries: readonly string[], opts: PoolOptions<S> = {}): Promise<ServicePool<S>> {
    const list = endpointList(entries);
    if (list.length === 0) throw new ServiceError(grpc.status.INVALID_ARGUMENT, `${desc.typeName}: no endpoint given (a list of host:port or dns:///name:port)`);
    const pool = new ServicePool(desc, list, opts);
    await pool.refresh();
    const every = opts.reresolveMs ?? 10_000;
    if (every > 0) {
      pool.timer = setInterval(() => void pool.refresh().catch(() => undefined), every);
      pool.timer.unref();
    }
    return pool;
  }

  /** Every known replica (any state). */
  all(): Replica<S>[] {
    return [...this.byAddress.values()];
  }

  /** Replicas taking work. */
  ready(): Replica<S>[] {
    return this.all().filter((r) => r.state === 'ready');
  }

  private emit(kind: PoolEvent['kind'], address: string, reason?: string): void {
    this.opts.onEvent?.({ kind, address, ready: this.ready().length, known: this.byAddress.size, reason });
  }

  /** Re-resolves the names (adds new replicas, drops vanished ones) and admits pending and down replicas. */
  refresh(): Promise<void> {
    this.refreshing ??= this.doRefresh().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async doRefresh(): Promise<void> {
    if (this.closed) return;
    this.lastRefresh = Date.now();
    let addresses: string[] | undefined;
    try {
      addresses = await resolveEndpoints(this.entries, this.opts.resolveName);
    } catch (e) {
      if ((e as { code?: unknown }).code === grpc.status.INVALID_ARGUMENT) throw e;
      // A name that does not resolve right now (DNS hiccup, all pods gone) keeps the replicas we know.
      if (this.byAddress.size === 0) throw new ServiceError(grpc.status.UNAVAILABLE, `${this.desc.typeName}: cannot resolve ${this.entries.join(', ')}: ${(e as Error).message}`);
    }
    if (addresses) {
      for (const a of addresses) {
        if (this.byAddress.has(a)) continue;
        const client = createClient(this.desc, a, {
          ...this.opts,
          loadBalancing: 'pick_first',
          // A replica that restarts should be reached again within ~2 s of coming back.
          channelOptions: { 'grpc.initial_reconnect_backoff_ms': 200, 'grpc.max_reconnect_backoff_ms': 2000, ...this.opts.channelOptions },
        });
        this.byAddress.set(a, { address: a, client, inFlight: 0, state: 'pending', items: 0, failures: 0 });
        this.emit('joined', a);
      }
      // Explicit addresses never vanish; a name's pod that went away does.
      const keep = new Set(addresses);
      for (const r of this.all()) {
        if (keep.has(r.address) || r.inFlight > 0) continue;
        r.client.close();
        this.byAddress.delete(r.address);
        this.emit('left', r.address, 'no longer resolved');
      }
    }
    await Promise.all(this.all().filter((r) => r.state !== 'ready').map((r) => this.admit(r)));
  }

  private async admit(r: Replica<S>): Promise<void> {
    try {
      await r.client.waitForReady(2000);
      await this.opts.admit?.(r);
      if (r.state !== 'ready') {
        r.state = 'ready';
        this.emit('ready', r.address);
      }
    } catch (e) {
      if (r.state === 'ready') this.markDown(r, (e as Error).message);
    }
  }

  /** Sets a replica aside after a failure; the next refresh (timer or on demand) tries to admit it again. */
  markDown(r: Replica<S>, reason: string): void {
    r.failures++;
    if (r.state === 'down') return;
    r.state = 'down';
    this.emit('down', r.address, reason);
  }

  /** Ready replicas; when there are none, refreshes once first; none after that → UNAVAILABLE. */
  async available(): Promise<Replica<S>[]> {
    let ready = this.ready();
    if (ready.length === 0) {
      await this.refresh();
      ready = this.ready();
    }
    if (ready.length === 0) {
      const known = this.all().map((r) => `${r.address} (${r.state})`).join(', ') || 'none resolved';
      throw new ServiceError(grpc.status.UNAVAILABLE, `${this.desc.typeName}: no replica is ready (${known})`, {}, { retryable: true });
    }
    return ready;
  }

  /** Runs fn on one replica, counted in its in-flight load. */
  async call<T>(r: Replica<S>, fn: (client: PoolClient<S>) => Promise<T>): Promise<T> {
    r.inFlight++;
    try {
      return await fn(r.client);
    } finally {
      r.inFlight--;
    }
  }

  /**
   * Splits `items` over the ready replicas by load (fewest in-flight calls get the most), runs each share
   * with run(client, share, offset) and returns the results in item order. A share whose replica fails
   * (isReplicaFailure) is redone over the remaining replicas; other errors are the request's and propagate.
   */
  async spread<I, O>(items: readonly I[], run: (client: PoolClient<S>, share: readonly I[], offset: number, replica: Replica<S>) => Promise<O[]>, offset = 0): Promise<O[]> {
    if (items.length === 0) return [];
    const ready = await this.available();
    const counts = shareCounts(items.length, ready.map((r) => r.inFlight));
    const out: O[] = new Array(items.length);
    let start = 0;
    await Promise.all(
      ready.map(async (r, i) => {
        const from = start;
        const n = counts[i]!;
        start += n;
        if (n === 0) return;
        const share = items.slice(from, from + n);
        let got: O[];
        try {
          got = await this.call(r, (c) => run(c, share, offset + from, r));
          if (got.length !== share.length) throw new ServiceError(grpc.status.INTERNAL, `${r.address} answered ${got.length} results for ${share.length} items`);
          r.items += n;
        } catch (e) {
          if (!isReplicaFailure(e) || this.closed) throw e;
          this.markDown(r, (e as Error).message);
          got = await this.spread(share, run, offset + from);
        }
        for (let j = 0; j < n; j++) out[from + j] = got[j]!;
      }),
    );
    return out;
  }

  /** Runs fn on every ready replica at once; a replica that fails is set aside (reported), the rest go on. */
  async each<T>(fn: (client: PoolClient<S>, replica: Replica<S>) => Promise<T>): Promise<{ replica: Replica<S>; value: T }[]> {
    // Every replica should get a push: first try to (re-)admit those that joined or came back.
    // (At most every 2 s: one push makes several each() calls, and a dead replica costs a connect timeout.)
    if (this.all().some((r) => r.state !== 'ready') && Date.now() - this.lastRefresh > 2000) await this.refresh();
    const ready = await this.available();
    const settled = await Promise.allSettled(ready.map((r) => this.call(r, (c) => fn(c, r))));
    const ok: { replica: Replica<S>; value: T }[] = [];
    let firstError: unknown;
    settled.forEach((s, i) => {
      if (s.status === 'fulfilled') ok.push({ replica: ready[i]!, value: s.value });
      else if (isReplicaFailure(s.reason)) this.markDown(ready[i]!, (s.reason as Error).message);
      else firstError ??= s.reason;
    });
    if (firstError !== undefined) throw firstError;
    if (ok.length === 0) throw new ServiceError(grpc.status.UNAVAILABLE, `${this.desc.typeName}: every replica failed`, {}, { retryable: true });
    return ok;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const r of this.all()) r.client.close();
  }
}

/** How many of n items each replica gets: items go one by one to the least loaded (load = in-flight + given). */
export function shareCounts(n: number, loads: readonly number[]): number[] {
  const counts = loads.map(() => 0);
  if (loads.length === 0) return counts;
  // Closed form of the one-by-one fill: raise the water level until n items fit, then hand out the rest.
  const lo = Math.min(...loads);
  let level = lo;
  const fits = (l: number) => loads.reduce((a, x) => a + Math.max(0, l - x), 0);
  let hi = lo + n;
  while (level < hi) {
    const mid = Math.floor((level + hi + 1) / 2);
    if (fits(mid) <= n) level = mid;
    else hi = mid - 1;
  }
  let left = n;
  loads.forEach((x, i) => {
    counts[i] = Math.max(0, level - x);
    left -= counts[i]!;
  });
  for (let i = 0; left > 0; i = (i + 1) % loads.length) {
    if (loads[i]! <= level) {
      counts[i]!++;
      left--;
    }
  }
  return counts;
}
