// What the generator serves: a loaded model, its generation and scoring sessions, the batching engine
// and the versioned weights. Prompts become token ids here (text, chat template, or verbatim tokens).
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { modelWeights, startLmWorkers, weightFeeds, weightWire, type ServedLm, type WeightMap } from '@juice/inference';
import { describeModel, encodePrompt, loadModel, promptText, type LoadedModel } from '@juice/models';
import { ModelHead, WeightVersionSchema, type ModelInfo, type Prompt, type WeightVersion } from '@juice/proto';
import type { Feeds, WorkerEngine, WorkerSession } from '@juice/runtime';
import { VersionedWeights } from '@juice/weight-sync';

export type { WeightMap };

export interface HostOptions {
  modelDir: string;
  maxBatch: number;
  maxQueue: number;
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
  ) {
    this.weights = new VersionedWeights(initial, 'loaded');
    this.shapes = new Map(model.params.entries.map((e) => [e.name, e.shape]));
  }

  static async load(o: HostOptions): Promise<ModelHost> {
    const model = loadModel(o.modelDir);
    const initial = modelWeights(model);
    const { engine, scorer } = await startLmWorkers(model, initial, { maxBatch: o.maxBatch, maxQueue: o.maxQueue, label: '0' });
    return new ModelHost(model, engine, scorer, initial);
  }

  get contextLength(): number {
    return this.model.config.maxPositions;
  }

  feeds(w: WeightMap): Feeds {
    return weightFeeds(w, this.model);
  }

  /** The version whose weights the scoring worker holds (stamped on ScoreCompletions results). */
  scorerVersion = 0n;

  /** Hands a weight set to both workers; requests that arrive from now on use it. */
  async serveWeights(version: bigint, w: WeightMap): Promise<void> {
    this.engine.setWeights(weightWire(String(version), w, this.model));
    // Runs posted before the pin keep the old weights (the worker handles messages in order).
    this.scorerVersion = version;
    await this.scorer.pin(weightFeeds(w, this.model));
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
    return describeModel(this.model, { head: ModelHead.CAUSAL_LM, parameterCount: this.model.params.numParams, weightVersion: this.version() });
  }

}
