// One weight version across a pool of serving replicas. A push is two-phase: the weights are staged on
// every replica (stage_only), and only when all that are still up hold them is each one activated, so a
// stage or round never samples from a mix of versions. The pushed tensors are kept (one copy), so a replica
// that joins or restarts is brought to the current version (admit) before it is given work.
//
// How the bytes travel: the trainer sends one copy per replica, concurrently, from chunks encoded and
// checksummed once (the same chunk objects go to every replica). A relay/chain (replicas forwarding chunks
// so the trainer's uplink carries one copy) needs a forwarding RPC on the serving roles; on loopback and
// for the replica counts juice runs, N concurrent copies cost little (measured in bench section `push`).
import type { GetWeightVersionResponse, PushWeightsResponse, ActivateWeightsResponse, WeightChunk } from '@juice/proto';
import { weightChunks, type ChunkOptions, type PushTensor } from './chunk.js';

/** What a serving replica offers for weight sync (the generator and reward-model clients have it). */
export interface WeightTarget {
  getWeightVersion(req: object): Promise<Pick<GetWeightVersionResponse, 'active' | 'staged'>>;
  pushWeights(chunks: Iterable<WeightChunk>): Promise<Pick<PushWeightsResponse, 'bytes' | 'activated'>>;
  activateWeights(req: { version: bigint }): Promise<Pick<ActivateWeightsResponse, 'active'>>;
}

/** The ready replicas of a pool (ServicePool from @juice/service-kit has this shape). */
export interface WeightReplicaSet<T extends WeightTarget> {
  /** Runs fn on every ready replica; a replica that fails is set aside and the rest go on (throws if none is left). */
  each<R>(fn: (client: T) => Promise<R>): Promise<{ value: R }[]>;
}

export interface PoolPushResult {
  version: bigint;
  /** Replicas that staged and activated the version. */
  replicas: number;
  /** Data bytes sent in all (one copy per replica). */
  bytes: bigint;
  seconds: number;
  /** Stage (transfer + receiver checks + install as staged) and activation time. */
  stageSeconds: number;
  activateSeconds: number;
}

export interface PoolWeightsOptions {
  /** Chunking of every push (dtype, chunk_bytes). */
  chunk?: Pick<ChunkOptions, 'dtype' | 'chunkBytes'>;
}

const served = (v: Pick<GetWeightVersionResponse, 'active' | 'staged'>) => {
  const a = v.active?.number ?? 0n;
  const s = v.staged?.number ?? 0n;
  return a > s ? a : s;
};

export class PoolWeights {
  private current: { version: bigint; label: string; chunks: WeightChunk[] } | undefined;

  constructor(private readonly o: PoolWeightsOptions = {}) {}

  /** The version every ready replica serves (0 before the first push). */
  get version(): bigint {
    return this.current?.version ?? 0n;
  }

  /**
   * The pool as one push target (pushNextVersion's PushTarget): getWeightVersion answers the newest version
   * any replica holds (active or staged) or last pushed, so current + 1 is new to all; pushWeights stages the
   * chunks on every ready replica, then activates the version on every one that staged it.
   */
  target<T extends WeightTarget>(pool: WeightReplicaSet<T>) {
    return {
      getWeightVersion: async (): Promise<{ active: { number: bigint } }> => {
        let newest = this.version;
        for (const h of await pool.each((c) => c.getWeightVersion({}))) if (served(h.value) > newest) newest = served(h.value);
        return { active: { number: newest } };
      },
      pushWeights: async (chunks: Iterable<WeightChunk>) => {
        const r = await this.pushChunks(pool, [...chunks]);
        return { bytes: r.bytes, replicas: r.replicas, activated: true, stageSeconds: r.stageSeconds, activateSeconds: r.activateSeconds };
      },
    };
  }

  /**
   * Pushes `tensors` as a new version to every ready replica: stage on all, then activate on all. The
   * tensors are copied once (training continues while replicas that join later still need this version).
   */
  async push<T extends WeightTarget>(pool: WeightReplicaSet<T>, tensors: ReadonlyMap<string, PushTensor>, label: string): Promise<PoolPushResult> {
    const t0 = performance.now();
    const { active } = await this.target(pool).getWeightVersion();
    const version = active.number + 1n;
    const snapshot = new Map<string, PushTensor>([...tensors].map(([n, t]) => [n, { shape: t.shape, data: t.data.slice() }]));
    const r = await this.pushChunks(pool, [...weightChunks(snapshot, { ...this.o.chunk, version, label, stable: true })]);
    return { ...r, seconds: (performance.now() - t0) / 1000 };
  }

  /** Two-phase push of ready-made chunks (the same chunk objects go to every replica: encoded and hashed once). */
  private async pushChunks<T extends WeightTarget>(pool: WeightReplicaSet<T>, chunks: WeightChunk[]): Promise<PoolPushResult> {
    const t0 = performance.now();
    const header = chunks[0]?.header;
    if (!header?.version) throw Object.assign(new Error('the first chunk must carry the header'), { code: 3 /* INVALID_ARGUMENT */ });
    const version = header.version.number;
    // The checksum covers the tensors only, so the same chunks are marked stage-only without re-hashing.
    if (!header.stageOnly) chunks[0] = { ...chunks[0]!, header: { ...header, stageOnly: true } };
    const staged = await pool.each((c) => c.pushWeights(chunks));
    const t1 = performance.now();
    const bytes = staged.reduce((a, s) => a + s.value.bytes, 0n);
    // Replicas that failed staging are out of the pool now (re-admitted later with this version).
    this.current = { version, label: header.version.label, chunks };
    const active = await pool.each((c) => this.activate(c, version));
    const t2 = performance.now();
    return { version, replicas: active.length, bytes, seconds: (t2 - t0) / 1000, stageSeconds: (t1 - t0) / 1000, activateSeconds: (t2 - t1) / 1000 };
  }

  private async activate(c: WeightTarget, version: bigint): Promise<void> {
    const got = await c.activateWeights({ version });
    if (got.active?.number !== version) throw Object.assign(new Error(`activated version ${got.active?.number}, expected ${version}`), { code: 9 /* FAILED_PRECONDITION */ });
  }

  /**
   * Brings one replica to the current version before it takes work (a replica that joined, or restarted
   * and lost the pushed weights). A no-op before the first push or when it already serves the version.
   */
  async admit(c: WeightTarget): Promise<void> {
    const cur = this.current;
    if (!cur) return;
    const v = await c.getWeightVersion({});
    if (v.active?.number === cur.version) return;
    if (v.staged?.number !== cur.version) {
      if (served(v) > cur.version) throw Object.assign(new Error(`replica holds version ${served(v)}, newer than the pool's ${cur.version} (another trainer pushes to it?)`), { code: 9 });
      await c.pushWeights(cur.chunks);
    }
    await this.activate(c, cur.version);
  }
}
