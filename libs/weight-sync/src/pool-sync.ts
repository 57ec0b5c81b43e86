// The one client-side weight push (every trainer caller goes through PoolWeights.push): one weight
// version across a pool of serving replicas, with the WeightSyncConfig options.
//   two_phase  true: stage (stage_only) on every replica, and only when all that are still up hold it
//              activate it on each, so no replica serves the new version before all hold it. false: each
//              replica activates the push as it arrives (one RPC per replica); while the push is under way
//              a caller that samples from the pool may briefly meet two versions (the pool's batch calls
//              then answer ABORTED, see role-pools.ts). The trainer itself never samples during its own
//              push, so its stages and rounds see one version either way.
//   delta      the pushed tensors are kept (one copy); the next push sends only the tensors whose bytes
//              changed (WeightDeltaMode REPLACE on that version: exact, unlike ADD). A replica that does
//              not hold that version (restarted, joined, or refuses the base) gets the full push.
//   chunk      chunk_bytes and the wire dtype of every chunk.
//   timeout    the deadline of one whole push, as the gRPC deadline of every call in it. A push past it
//              fails DEADLINE_EXCEEDED (retryable); a replica cut off mid-transfer installs nothing, and
//              a two-phase push that ran out of time before activation leaves every replica serving the
//              old version (the stage is overwritten by the next push).
// The kept copy also brings a replica that joins or restarts to the current version (admit) before it is
// given work; it is always a full push.
//
// How the bytes travel: one copy per replica, concurrently, from chunks encoded and checksummed once (the
// same chunk objects go to every replica). A relay/chain (replicas forwarding chunks so the trainer's
// uplink carries one copy) needs a forwarding RPC on the serving roles; on loopback and for the replica
// counts juice runs, N concurrent copies cost little (measured in bench section `push`).
import { WeightDeltaMode, type WeightChunk } from '@juice/proto';
import { weightChunks, type ChunkOptions, type PushTensor } from './chunk.js';
import { DEFAULT_PUSH_TIMEOUT_MS, type WeightSyncOptions } from './sync-options.js';
import type { NamedTensors, PushOptions, PushResult } from './push.js';

/** The versions a replica holds (GetWeightVersionResponse has these fields). */
type Versions = { active?: { number: bigint }; staged?: { number: bigint } };

/** A call's deadline (the service-kit clients' CallOptions has this field). */
export interface PushCallOptions {
  deadlineMs?: number;
}

/** What a serving replica offers for weight sync (the generator and reward-model clients have it). */
export interface WeightTarget {
  getWeightVersion(req: object, opts?: PushCallOptions): Promise<Versions>;
  pushWeights(chunks: Iterable<WeightChunk>, opts?: PushCallOptions): Promise<{ bytes: bigint }>;
  activateWeights(req: { version: bigint }, opts?: PushCallOptions): Promise<{ active?: { number: bigint } }>;
}

/** The ready replicas of a pool (ServicePool from @juice/service-kit has this shape). */
export interface WeightReplicaSet<T extends WeightTarget> {
  /** Runs fn on every ready replica; a replica that fails is set aside and the rest go on (throws if none is left). */
  each<R>(fn: (client: T) => Promise<R>): Promise<{ value: R }[]>;
}

/** One client as a pool of one (a push to a single role goes through the same path). */
export const oneReplica = <T extends WeightTarget>(client: T): WeightReplicaSet<T> => ({ each: async (fn) => [{ value: await fn(client) }] });

export interface PoolPushResult extends PushResult {
  /** Stage (transfer + receiver checks + install) and activation time; activation is 0 for one-phase pushes. */
  stageSeconds: number;
  activateSeconds: number;
  /** Replicas that took a delta (the rest took the full push). */
  deltaReplicas: number;
  /** Tensors in the delta (all of them when no replica took one). */
  tensorsSent: number;
}

export interface PoolWeightsOptions extends Omit<WeightSyncOptions, 'chunkBytes' | 'dtype'> {
  /** Chunking of every push (dtype, chunk_bytes). */
  chunk?: Pick<ChunkOptions, 'dtype' | 'chunkBytes'>;
}

const served = (v: Versions) => {
  const a = v.active?.number ?? 0n;
  const s = v.staged?.number ?? 0n;
  return a > s ? a : s;
};
const holds = (v: Versions, version: bigint) => v.active?.number === version || v.staged?.number === version;
const statusError = (code: number, message: string, retryable: boolean) => Object.assign(new Error(message), { code, retryable });
const DEADLINE_EXCEEDED = 4;
const FAILED_PRECONDITION = 9;

const bytesOf = (t: PushTensor) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
const sameBytes = (a: PushTensor, b: PushTensor) => a.data.length === b.data.length && Buffer.from(bytesOf(a)).equals(Buffer.from(bytesOf(b)));

interface Pushed {
  version: bigint;
  label: string;
  /** The version's tensors (a copy; unchanged tensors share the previous version's arrays). */
  tensors: Map<string, PushTensor>;
  header: PushOptions['header'];
}

export class PoolWeights {
  private current: Pushed | undefined;
  private readonly timeoutMs: number;

  constructor(private readonly o: PoolWeightsOptions = {}) {
    this.timeoutMs = o.timeoutMs ?? DEFAULT_PUSH_TIMEOUT_MS;
  }

  /** The version every ready replica serves (0 before the first push). */
  get version(): bigint {
    return this.current?.version ?? 0n;
  }

  /** `pool` as a push target: `push(tensors, o)` pushes to it with this object's options. */
  target<T extends WeightTarget>(pool: WeightReplicaSet<T>) {
    return { push: (tensors: NamedTensors, o: PushOptions) => this.push(pool, tensors, o) };
  }

  /**
   * Pushes `tensors` as a new version to every ready replica: newer than any version a replica holds or
   * this pool last pushed. The tensors are copied once (training goes on while replicas that join later
   * still need this version); with delta only the changed ones are copied.
   */
  async push<T extends WeightTarget>(pool: WeightReplicaSet<T>, tensors: NamedTensors, options: PushOptions | string): Promise<PoolPushResult> {
    const o = typeof options === 'string' ? { label: options } : options;
    const t0 = performance.now();
    const deadline = Date.now() + this.timeoutMs;
    const call = (): PushCallOptions => ({ deadlineMs: Math.max(1, deadline - Date.now()) });
    try {
      const held = new Map<T, Versions>();
      let newest = this.version;
      for (const h of await pool.each(async (c) => {
        const v = await c.getWeightVersion({}, call());
        held.set(c, v);
        return v;
      }))
        if (served(h.value) > newest) newest = served(h.value);
      const version = newest + 1n;

      // An adapter-only push is served at once and sent whole (the generator refuses stage_only and deltas for it).
      const adapter = o.header?.loraAdapterOnly === true;
      const twoPhase = (this.o.twoPhase ?? true) && !adapter;
      const prev = this.current;
      const base = this.o.delta && !adapter && prev && !prev.header?.loraAdapterOnly && sameNames(prev.tensors, tensors) ? prev : undefined;
      const snapshot = new Map<string, PushTensor>();
      const changed = new Map<string, PushTensor>();
      for (const [name, t] of tensors) {
        const before = base?.tensors.get(name);
        if (before && sameBytes(before, t)) snapshot.set(name, before);
        else {
          const copy = { shape: [...t.shape], data: t.data.slice() };
          snapshot.set(name, copy);
          changed.set(name, copy);
        }
      }
      // A delta must name at least one tensor (total_tensors > 0): with nothing changed, the smallest goes.
      if (base && changed.size === 0) {
        const [name, t] = [...snapshot].reduce((a, b) => (b[1].data.length < a[1].data.length ? b : a));
        changed.set(name, t);
      }
      const next: Pushed = { version, label: o.label, tensors: snapshot, header: o.header };
      const chunkOptions = { ...this.o.chunk, version, label: o.label, stable: true, stageOnly: twoPhase, adapter: o.header };
      let full: WeightChunk[] | undefined;
      const fullChunks = () => (full ??= [...weightChunks(snapshot, chunkOptions)]);
      const deltaChunks = base ? [...weightChunks(changed, { ...chunkOptions, deltaMode: WeightDeltaMode.REPLACE, baseVersion: base.version })] : undefined;

      const sent = await pool.each(async (c) => {
        const v = held.get(c) ?? (await c.getWeightVersion({}, call()));
        if (deltaChunks && holds(v, base!.version)) {
          try {
            return { ...(await c.pushWeights(deltaChunks, call())), delta: true };
          } catch (e) {
            // The replica lost the base in between (restarted): it takes the full push instead.
            if ((e as { code?: number }).code !== FAILED_PRECONDITION || !/base_version/.test((e as Error).message)) throw e;
          }
        }
        return { ...(await c.pushWeights(fullChunks(), call())), delta: false };
      });
      const t1 = performance.now();
      const bytes = sent.reduce((a, s) => a + s.value.bytes, 0n);
      const deltaReplicas = sent.filter((s) => s.value.delta).length;
      const tensorsSent = deltaReplicas ? changed.size : snapshot.size;
      if (!twoPhase) {
        this.current = next;
        return { version, replicas: sent.length, bytes, seconds: (t1 - t0) / 1000, stageSeconds: (t1 - t0) / 1000, activateSeconds: 0, deltaReplicas, tensorsSent };
      }
      if (Date.now() >= deadline) throw statusError(DEADLINE_EXCEEDED, `staging took longer than the push's deadline; version ${version} is staged but not activated`, true);
      // Replicas that failed staging are out of the pool now (re-admitted later with this version).
      this.current = next;
      const active = await pool.each((c) => this.activate(c, version, call()));
      const t2 = performance.now();
      return { version, replicas: active.length, bytes, seconds: (t2 - t0) / 1000, stageSeconds: (t1 - t0) / 1000, activateSeconds: (t2 - t1) / 1000, deltaReplicas, tensorsSent };
    } catch (e) {
      if (Date.now() < deadline) throw e;
      // Every replica that ran out of time was set aside as failed; say what happened, retryably.
      throw statusError(DEADLINE_EXCEEDED, `weight push "${o.label}" exceeded its ${this.timeoutMs / 1000} s deadline (weight_sync.timeout_seconds): ${(e as Error).message}`, true);
    }
  }

  private async activate(c: WeightTarget, version: bigint, opts?: PushCallOptions): Promise<void> {
    const got = await c.activateWeights({ version }, opts);
    if (got.active?.number !== version) throw statusError(FAILED_PRECONDITION, `activated version ${got.active?.number}, expected ${version}`, false);
  }

  /**
   * Brings one replica to the current version before it takes work (a replica that joined, or restarted
   * and lost the pushed weights): a full push. A no-op before the first push or when it already serves it.
   */
  async admit(c: WeightTarget): Promise<void> {
    const cur = this.current;
    if (!cur) return;
    const v = await c.getWeightVersion({});
    if (v.active?.number === cur.version) return;
    if (v.staged?.number !== cur.version) {
      if (served(v) > cur.version) throw statusError(FAILED_PRECONDITION, `replica holds version ${served(v)}, newer than the pool's ${cur.version} (another trainer pushes to it?)`, false);
      const stageOnly = !cur.header?.loraAdapterOnly;
      await c.pushWeights([...weightChunks(cur.tensors, { ...this.o.chunk, version: cur.version, label: cur.label, stable: true, stageOnly, adapter: cur.header })]);
      if (!stageOnly) return;
    }
    await this.activate(c, cur.version);
  }
}

function sameNames(a: ReadonlyMap<string, PushTensor>, b: NamedTensors): boolean {
  if (a.size !== b.size) return false;
  for (const [n, t] of b) if (a.get(n)?.data.length !== t.data.length) return false;
  return true;
}

