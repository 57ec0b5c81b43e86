// The generator and reward-model pools as one client each: the batch RPCs (Generate, ScoreCompletions,
// Score, Compare) split their items over the replicas by load and merge the answers in item order; every
// share must come from one weight version (the version the caller asked for with min_weight_version, and
// the same one for the whole batch), so a batch never mixes versions. Non-batch calls (GetModelInfo,
// GetWeightVersion) go to the least loaded replica. Weight pushes are not here: the trainer pushes through
// PoolWeights (@juice/weight-sync), which also admits joining replicas via PoolOptions.admit.
import type { MessageInitShape } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import {
  GeneratorService,
  RewardModelService,
  type GenerateRequestSchema,
  type GenerateResponse,
  type ScoreCompletionsRequestSchema,
  type ScoreCompletionsResponse,
  type ScoreRequestSchema,
  type ScoreResponse,
  type CompareRequestSchema,
  type CompareResponse,
  type WeightVersion,
} from '@juice/proto';
import type { CallOptions } from './client.js';
import { ServiceError } from './errors.js';
import { ServicePool, type PoolOptions } from './pool.js';

/** All shares of one batch must be served by one version; a mix means a push landed in between (retry the unit). */
function oneVersion(versions: (WeightVersion | undefined)[]): WeightVersion | undefined {
  const first = versions.find((v) => v !== undefined);
  const mixed = versions.find((v) => v !== undefined && v.number !== first!.number);
  if (mixed) throw new ServiceError(grpc.status.ABORTED, `the pool answered one batch with weight versions ${first!.number} and ${mixed.number}; retry after the push completes`, {}, { retryable: true });
  return first;
}

async function leastLoaded<S extends Parameters<typeof ServicePool.open>[0], T>(pool: ServicePool<S>, f: (c: ReturnType<ServicePool<S>['all']>[number]['client']) => Promise<T>): Promise<T> {
  const ready = await pool.available();
  const r = ready.reduce((a, b) => (b.inFlight < a.inFlight ? b : a));
  return pool.call(r, f);
}

export class GeneratorPool {
  private constructor(readonly pool: ServicePool<typeof GeneratorService>) {}

  static async open(entries: readonly string[], o: PoolOptions<typeof GeneratorService> = {}): Promise<GeneratorPool> {
    return new GeneratorPool(await ServicePool.open(GeneratorService, entries, o));
  }

  async generate(req: MessageInitShape<typeof GenerateRequestSchema>, opts?: CallOptions): Promise<GenerateResponse> {
    const versions: (WeightVersion | undefined)[] = [];
    let usage = { promptTokens: 0n, completionTokens: 0n };
    let last: GenerateResponse | undefined;
    // Shares keep the request's seed: a sample's stream depends on the seed and its index, not on which
    // call carries the prompt, so the split does not change what is sampled.
    const results = await this.pool.spread(req.prompts ?? [], async (c, share) => {
      const res = await c.generate({ ...req, prompts: [...share] } as typeof req, opts);
      versions.push(res.weightVersion);
      last = res;
      if (res.usage) usage = { promptTokens: usage.promptTokens + res.usage.promptTokens, completionTokens: usage.completionTokens + res.usage.completionTokens };
      return res.results;
    });
    const weightVersion = oneVersion(versions);
    return { ...last!, results, weightVersion, usage: last?.usage ? { ...last.usage, ...usage } : undefined };
  }

  async scoreCompletions(req: MessageInitShape<typeof ScoreCompletionsRequestSchema>, opts?: CallOptions): Promise<ScoreCompletionsResponse> {
    const versions: (WeightVersion | undefined)[] = [];
    let last: ScoreCompletionsResponse | undefined;
    const results = await this.pool.spread(req.items ?? [], async (c, share) => {
      const res = await c.scoreCompletions({ ...req, items: [...share] } as typeof req, opts);
      versions.push(res.weightVersion);
      last = res;
      return res.results;
    });
    return { ...last!, results, weightVersion: oneVersion(versions) };
  }

  getModelInfo(req: object = {}, opts?: CallOptions) {
    return leastLoaded(this.pool, (c) => c.getModelInfo(req, opts));
  }

  close(): void {
    this.pool.close();
  }
}

export class RewardModelPool {
  private constructor(readonly pool: ServicePool<typeof RewardModelService>) {}

  static async open(entries: readonly string[], o: PoolOptions<typeof RewardModelService> = {}): Promise<RewardModelPool> {
    return new RewardModelPool(await ServicePool.open(RewardModelService, entries, o));
  }

  async score(req: MessageInitShape<typeof ScoreRequestSchema>, opts?: CallOptions): Promise<ScoreResponse> {
    const versions: (WeightVersion | undefined)[] = [];
    let last: ScoreResponse | undefined;
    const results = await this.pool.spread(req.items ?? [], async (c, share) => {
      const res = await c.score({ ...req, items: [...share] } as typeof req, opts);
      versions.push(res.weightVersion);
      last = res;
      return res.results;
    });
    return { ...last!, results, weightVersion: oneVersion(versions) };
  }

  async compare(req: MessageInitShape<typeof CompareRequestSchema>, opts?: CallOptions): Promise<CompareResponse> {
    const versions: (WeightVersion | undefined)[] = [];
    let last: CompareResponse | undefined;
    const results = await this.pool.spread(req.pairs ?? [], async (c, share) => {
      const res = await c.compare({ ...req, pairs: [...share] } as typeof req, opts);
      versions.push(res.weightVersion);
      last = res;
      return res.results;
    });
    return { ...last!, results, weightVersion: oneVersion(versions) };
  }

  close(): void {
    this.pool.close();
  }
}
