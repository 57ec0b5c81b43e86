// What the reward-model serves: a backbone with a scalar head (HF *ForSequenceClassification), or a
// causal LM given a fresh head (how RFT starts its reward model from the SFT policy), one forward-only
// session, and versioned weights for pushes. Concurrent callers' sequences share forward passes.
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { loadHfDir } from '@juice/checkpoint';
import { buildRewardModel, describeModel, loadModel, rewardParamsFromCausalLm, type LoadedModel } from '@juice/models';
import { toModelBytes } from '@juice/onnx';
import type { ParamSet } from '@juice/optim';
import { ModelHead, WeightVersionSchema, type ModelInfo, type WeightVersion } from '@juice/proto';
import { WorkerSession, type Feeds } from '@juice/runtime';
import { VersionedWeights } from '@juice/weight-sync';

export type WeightMap = Map<string, Float32Array>;

export class RewardHost {
  readonly weights: VersionedWeights<WeightMap>;
  readonly shapes: Map<string, readonly number[]>;
  private queue: { ids: number[]; resolve: (r: { reward: number; version: bigint }) => void; reject: (e: unknown) => void }[] = [];
  private flushing = false;
  private drained: (() => void)[] = [];
  /** The version whose weights the worker holds (what every score is stamped with). */
  private servedVersion = 0n;

  private constructor(
    readonly model: LoadedModel,
    readonly params: ParamSet,
    /** The reward graph runs in a worker thread holding the served weights (pinned), off the event loop. */
    private readonly session: WorkerSession,
    readonly freshHead: boolean,
    private readonly maxBatch: number,
  ) {
    this.weights = new VersionedWeights(new Map(params.entries.map((e) => [e.name, params.view(e.name)])), 'loaded');
    this.shapes = new Map(params.entries.map((e) => [e.name, e.shape]));
  }

  static async load(dir: string, maxBatch = 32): Promise<RewardHost> {
    const arch = String(((loadHfDir(dir).config.architectures as string[] | undefined) ?? [''])[0]);
    const isReward = arch.endsWith('ForSequenceClassification');
    const model = loadModel(dir, isReward ? 'reward' : 'lm');
    // A causal LM: keep the backbone, add a freshly initialised score head (std 0.02, seed 0); only its LM head is dropped.
    const params = isReward ? model.params : rewardParamsFromCausalLm(model, 0);
    const session = await WorkerSession.create(toModelBytes(buildRewardModel(model.config).graph));
    const host = new RewardHost(model, params, session, !isReward, maxBatch);
    await host.serve(host.weights.active.weights, 0n);
    return host;
  }

  version(): WeightVersion {
    const a = this.weights.active;
    return create(WeightVersionSchema, { number: a.number, label: a.label, activatedAt: a.activatedAt ? timestampFromDate(a.activatedAt) : undefined });
  }

  /** Rewards for token sequences; sequences of concurrent calls are batched into shared forwards. */
  score(seqs: number[][]): Promise<{ reward: number; version: bigint }[]> {
    const all = Promise.all(seqs.map((ids) => new Promise<{ reward: number; version: bigint }>((resolve, reject) => this.queue.push({ ids, resolve, reject }))));
    this.kick();
    return all;
  }

  /** Flushes on the next turn of the event loop, so calls arriving in the same tick share a batch. */
  private kick(): void {
    if (this.flushing) return;
    this.flushing = true;
    setImmediate(() => void this.flush());
  }

  /**
   * Makes `weights` the ones later forwards use (copied to the worker once). Waits until every queued
   * sequence has been scored, so no call's sequences straddle two versions.
   */
  async serve(weights: WeightMap, version: bigint): Promise<void> {
    while (this.flushing || this.queue.length) await new Promise<void>((r) => this.drained.push(r));
    const feeds: Feeds = {};
    for (const e of this.params.entries) feeds[e.name] = { data: weights.get(e.name)!, dims: e.shape as number[] };
    this.servedVersion = version;
    await this.session.pin(feeds);
  }

  async close(): Promise<void> {
    await this.session.close();
  }

  private async flush(): Promise<void> {
    while (this.queue.length) {
      const batch = this.queue.splice(0, this.maxBatch);
      const B = batch.length;
      const T = Math.max(...batch.map((b) => b.ids.length));
      const ids = new BigInt64Array(B * T);
      const mask = new BigInt64Array(B * T);
      batch.forEach((b, i) => b.ids.forEach((t, j) => ((ids[i * T + j] = BigInt(t)), (mask[i * T + j] = 1n))));
      try {
        const out = await this.session.run({ input_ids: { data: ids, dims: [B, T] }, attention_mask: { data: mask, dims: [B, T] } });
        const r = out.rewards!.data as Float32Array;
        batch.forEach((b, i) => b.resolve({ reward: r[i]!, version: this.servedVersion }));
      } catch (e) {
        batch.forEach((b) => b.reject(e));
      }
    }
    this.flushing = false;
    for (const wake of this.drained.splice(0)) wake();
  }

  info(): ModelInfo {
    return describeModel(this.model, { head: ModelHead.SCALAR_REWARD, parameterCount: this.params.numParams, weightVersion: this.version() });
  }

}
