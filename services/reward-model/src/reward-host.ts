// What the reward-model serves: a backbone with a scalar head (HF *ForSequenceClassification), or a
// causal LM given a fresh head (how RFT starts its reward model from the SFT policy), one forward-only
// session, and versioned weights for pushes. Concurrent callers' sequences share forward passes.
//
// The session also takes one LoRA adapter (a LoRA reward model: adapters on the backbone and
// optionally its own score head, PEFT SEQ_CLS modules_to_save) as stacked adapter inputs on every
// Linear (@juice/models withStackedLora). A version's weight map holds everything the session is fed:
// the base tensors, the adapter stacks (absent = none: zero stacks are fed) and the score head. An
// adapter version shares the base tensors with the version it was pushed onto, and serve() pins only
// the tensors that changed, so an adapter push never re-sends the base to the worker.
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { loadHfDir } from '@juice/checkpoint';
import { buildRewardModel, describeModel, LORA_ROW_MASK_INPUT, loadModel, rewardParamsFromCausalLm, scoreHeadName, stackAdapters, type LoadedModel, type LoraSpec } from '@juice/models';
import { toModelBytes } from '@juice/onnx';
import type { ParamSet } from '@juice/optim';
import { LoraConfigSchema, ModelHead, WeightVersionSchema, type ModelInfo, type WeightVersion } from '@juice/proto';
import { WorkerSession, type Feeds } from '@juice/runtime';
import { VersionedWeights } from '@juice/weight-sync';

export type WeightMap = Map<string, Float32Array>;

/** What an adapter version adds to its weight map: the spec, and the head of the base it was pushed onto. */
export interface HeldRewardAdapter {
  spec: LoraSpec;
  /** The base's score head (kept for the next adapter push that brings no head of its own). */
  baseHead: Float32Array;
  /** Adapter bytes pushed (float32), head included when pushed. */
  bytes: number;
}

export class RewardHost {
  readonly weights: VersionedWeights<WeightMap>;
  readonly shapes: Map<string, readonly number[]>;
  private queue: { ids: number[]; resolve: (r: { reward: number; version: bigint }) => void; reject: (e: unknown) => void }[] = [];
  private flushing = false;
  private drained: (() => void)[] = [];
  /** The version whose weights the worker holds (what every score is stamped with). */
  private servedVersion = 0n;
  /** What the worker holds pinned, by input name (same array = nothing to send again). */
  private readonly pinned = new Map<string, Float32Array>();
  /** Adapter columns S of the pinned stacks (the row mask's width). */
  private servedColumns = 1;
  /** Adapter versions' extras, keyed by their weight map (a version without an entry has no adapter). */
  readonly adapterOf = new WeakMap<WeightMap, HeldRewardAdapter>();
  /** What the last serve() sent to the worker (an adapter push sends its stacks and head, no base tensor). */
  lastServe = { tensors: 0, bytes: 0 };
  /** The zero stacks (S = 1) fed when a version has no adapter. */
  private readonly zeroStacks: Map<string, { data: Float32Array; dims: number[] }>;

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
    this.zeroStacks = stackAdapters(model.config, []).tensors;
  }

  /** The score head's tensor name (a version's map holds the head it serves under this name). */
  get headName(): string {
    return scoreHeadName(this.model.config);
  }

  /** The adapter stack dims of the served layout, by stacked input name. */
  stackDims(columns: number): Map<string, number[]> {
    return new Map([...this.zeroStacks].map(([n, t]) => [n, n.endsWith('lora_A_stack') ? [columns, t.dims[1]!] : [t.dims[0]!, columns]]));
  }

  static async load(dir: string, maxBatch = 32): Promise<RewardHost> {
    const arch = String(((loadHfDir(dir).config.architectures as string[] | undefined) ?? [''])[0]);
    const isReward = arch.endsWith('ForSequenceClassification');
    const model = loadModel(dir, isReward ? 'reward' : 'lm');
    // A causal LM: keep the backbone, add a freshly initialised score head (std 0.02, seed 0); only its LM head is dropped.
    const params = isReward ? model.params : rewardParamsFromCausalLm(model, 0);
    const session = await WorkerSession.create(toModelBytes(buildRewardModel(model.config, { stackedLora: true }).graph));
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
    const all = new Map<string, { data: Float32Array; dims: number[] }>();
    for (const e of this.params.entries) all.set(e.name, { data: weights.get(e.name)!, dims: e.shape as number[] });
    const adapter = this.adapterOf.get(weights);
    const columns = adapter ? adapter.spec.rank : 1;
    const dims = this.stackDims(columns);
    for (const [n, z] of this.zeroStacks) all.set(n, adapter ? { data: weights.get(n)!, dims: dims.get(n)! } : z);
    // Only what differs from the worker's copy is sent: an adapter push sends its stacks (and head).
    const feeds: Feeds = {};
    for (const [n, t] of all) if (this.pinned.get(n) !== t.data) feeds[n] = t;
    this.servedVersion = version;
    this.servedColumns = columns;
    this.lastServe = { tensors: Object.keys(feeds).length, bytes: Object.values(feeds).reduce((a, f) => a + (f as { data: Float32Array }).data.byteLength, 0) };
    await this.session.pin(feeds);
    for (const [n, t] of all) this.pinned.set(n, t.data);
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
        // The served adapter applies to every row (one adapter slot); with none its stacks are zero.
        const rowMask = new Float32Array(B * T * this.servedColumns).fill(1);
        const out = await this.session.run({ input_ids: { data: ids, dims: [B, T] }, attention_mask: { data: mask, dims: [B, T] }, [LORA_ROW_MASK_INPUT]: { data: rowMask, dims: [B * T, this.servedColumns] } });
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
    const info = describeModel(this.model, { head: ModelHead.SCALAR_REWARD, parameterCount: this.params.numParams, weightVersion: this.version() });
    const a = this.adapterOf.get(this.weights.active.weights);
    if (a) info.lora = create(LoraConfigSchema, { rank: a.spec.rank, alpha: a.spec.alpha, dropout: a.spec.dropout ?? 0, targetModules: [...(a.spec.targetModules ?? [])], useRslora: !!a.spec.useRslora });
    return info;
  }

}
