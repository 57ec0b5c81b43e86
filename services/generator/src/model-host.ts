// What the generator serves: a loaded model, its generation and scoring sessions, the batching engine
// and the versioned weights. Prompts become token ids here (text, chat template, or verbatim tokens).
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { modelWeights, startLmWorkers, weightFeeds, weightWire, withStacks, type ServedLm, type WeightMap } from '@juice/inference';
import { AdapterSet } from './adapters.js';
import { describeModel, encodePrompt, loadModel, promptText, type LoadedModel } from '@juice/models';
import { AdapterInfoSchema, ModelHead, WeightVersionSchema, type ModelInfo, type Prompt, type WeightVersion } from '@juice/proto';
import type { EngineLora, Feeds, WorkerEngine, WorkerSession } from '@juice/runtime';
import { VersionedWeights } from '@juice/weight-sync';
import { StatusError } from '@juice/proto/status-error';

export type { WeightMap };

export interface HostOptions {
  modelDir: string;
  maxBatch: number;
  maxQueue: number;
  /** Named LoRA adapters held at once; 0 = plain graphs, adapter pushes refused. */
  maxAdapters?: number;
}

export class ModelHost implements ServedLm {
  readonly weights: VersionedWeights<WeightMap>;
  readonly shapes: Map<string, readonly number[]>;
  private constructor(
    readonly model: LoadedModel,
    /** Generation runs in a worker thread that holds its own copy of the served weights and the KV cache. */
    readonly engine: WorkerEngine,
    /** Teacher-forced scoring runs in its own worker thread, with the served weights pinned there. */
    readonly scorer: WorkerSession,
    initial: WeightMap,
    /** Named LoRA adapters (undefined: started without --max-adapters). */
    readonly adapters?: AdapterSet,
  ) {
    this.weights = new VersionedWeights(initial, 'loaded');
    this.shapes = new Map(model.params.entries.map((e) => [e.name, e.shape]));
  }

  static async load(o: HostOptions): Promise<ModelHost> {
    const model = loadModel(o.modelDir);
    const initial = modelWeights(model);
    const adapters = o.maxAdapters ? new AdapterSet(model.config, o.maxAdapters) : undefined;
    const multiLora = adapters?.stacks();
    const { engine, scorer } = await startLmWorkers(model, initial, { maxBatch: o.maxBatch, maxQueue: o.maxQueue, label: '0', multiLora });
    const host = new ModelHost(model, engine, scorer, initial, adapters);
    host.scorerLora = multiLora?.lora;
    return host;
  }

  get contextLength(): number {
    return this.model.config.maxPositions;
  }

  feeds(w: WeightMap): Feeds {
    return weightFeeds(w, this.model);
  }

  /** The version whose weights the scoring worker holds (stamped on ScoreCompletions results). */
  scorerVersion = 0n;
  /** The adapter column layout pinned in the scoring worker (with --max-adapters). */
  scorerLora?: EngineLora;

  /** Hands a weight set to both workers; requests that arrive from now on use it. */
  async serveWeights(version: bigint, w: WeightMap): Promise<void> {
    const engineHolds = this.engine.setWeights(withStacks(weightWire(String(version), w, this.model), this.adapters?.stacks()));
    // Runs posted before the pin keep the old weights (the worker handles messages in order).
    this.scorerVersion = version;
    // Both workers copy a pushed (shared-memory) version into their own at once, each on its thread.
    await Promise.all([engineHolds, this.scorer.pin(weightFeeds(w, this.model))]);
  }

  /**
   * Serves the held adapters (after a push or removal) as weight version `version`: only the stacked
   * adapter tensors go to the engine and to the scorer, layered over the base each holds (pinning
   * replaces only the named feeds), so no base tensor is copied again.
   */
  async serveAdapters(version: bigint): Promise<void> {
    const s = this.adapters!.stacks();
    this.engine.setWeights({ label: String(version), tensors: Object.fromEntries(s.stacks), lora: s.lora, partial: true });
    // Version, layout and pin in one tick: scoring runs posted later use these stacks, earlier ones the old.
    this.scorerVersion = version;
    this.scorerLora = s.lora;
    await this.scorer.pin(Object.fromEntries(s.stacks));
  }

  /** NOT_FOUND naming `adapter` unless it is held ("" = the base is always served). */
  checkAdapter(adapter: string, field = 'adapter'): void {
    if (!adapter || this.adapters?.has(adapter)) return;
    throw new StatusError('NOT_FOUND', `${field}: ${JSON.stringify(adapter.slice(0, 64))} is not served here${this.adapters ? ` (held: ${this.adapters.list.map((a) => a.name).join(', ') || 'none'})` : ' (this generator serves no LoRA adapters; start it with --max-adapters N)'}`, { retryable: false });
  }

  async close(): Promise<void> {
    await Promise.all([this.engine.close(), this.scorer.close()]);
  }

  version(): WeightVersion {
    const a = this.weights.active;
    return create(WeightVersionSchema, { number: a.number, label: a.label, activatedAt: a.activatedAt ? timestampFromDate(a.activatedAt) : undefined });
  }

  /** Token ids of a prompt as the model sees it (the contract's Prompt semantics). */
  promptIds(p: Prompt, field: string): number[] {
    return encodePrompt(this.model.tokenizer, p, field);
  }

  promptText(p: Prompt): string {
    return promptText(this.model.tokenizer, p);
  }

  info(): ModelInfo {
    const info = describeModel(this.model, { head: ModelHead.CAUSAL_LM, parameterCount: this.model.params.numParams, weightVersion: this.version() });
    info.adapters = (this.adapters?.list ?? []).map((a) =>
      create(AdapterInfoSchema, { name: a.name, version: a.version, bytes: BigInt(a.bytes), lora: { rank: a.spec.rank, alpha: a.spec.alpha, dropout: a.spec.dropout ?? 0, targetModules: [...(a.spec.targetModules ?? [])], useRslora: !!a.spec.useRslora } }),
    );
    return info;
  }

}
