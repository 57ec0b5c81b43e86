// What the generator serves: a loaded model, its generation and scoring sessions, the batching engine
// and the versioned weights. Prompts become token ids here (text, chat template, or verbatim tokens).
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { forwardOnly } from '@juice/autograd';
import { buildCausalLm, buildGenerationGraphs, describeModel, encodePrompt, loadModel, promptText, type LoadedModel } from '@juice/models';
import { toModelBytes } from '@juice/onnx';
import { ModelHead, WeightVersionSchema, type ModelInfo, type Prompt, type WeightVersion } from '@juice/proto';
import { WorkerEngine, WorkerSession, type Feeds, type WeightSetWire } from '@juice/runtime';
import { VersionedWeights } from '@juice/weight-sync';

export type WeightMap = Map<string, Float32Array>;

export interface HostOptions {
  modelDir: string;
  maxBatch: number;
  maxQueue: number;
}

export class ModelHost {
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
    const { prefill, decode } = buildGenerationGraphs(model.config);
    const spec = { layers: model.config.numLayers, kvHeads: model.config.numKvHeads, headDim: model.config.headDim, vocabSize: model.config.vocabSize };
    const initial: WeightMap = new Map(model.params.entries.map((e) => [e.name, model.params.view(e.name)]));
    const engine = await WorkerEngine.create({
      prefill: toModelBytes(prefill),
      decode: toModelBytes(decode),
      spec,
      engine: { maxBatch: o.maxBatch, maxQueue: o.maxQueue, contextLength: model.config.maxPositions },
      weights: wireOf('0', initial, model),
    });
    const lm = buildCausalLm(model.config, { greedy: true });
    const scorer = await WorkerSession.create(toModelBytes(forwardOnly(lm.graph, ['token_logprobs', 'token_is_greedy'])));
    await scorer.pin(feedsOf(initial, model));
    return new ModelHost(model, engine, scorer, initial);
  }

  get contextLength(): number {
    return this.model.config.maxPositions;
  }

  feeds(w: WeightMap): Feeds {
    return feedsOf(w, this.model);
  }

  /** The version whose weights the scoring worker holds (stamped on ScoreCompletions results). */
  scorerVersion = 0n;

  /** Hands a weight set to both workers; requests that arrive from now on use it. */
  async serveWeights(version: bigint, w: WeightMap): Promise<void> {
    this.engine.setWeights(wireOf(String(version), w, this.model));
    // Runs posted before the pin keep the old weights (the worker handles messages in order).
    this.scorerVersion = version;
    await this.scorer.pin(feedsOf(w, this.model));
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

function feedsOf(w: WeightMap, model: LoadedModel): Feeds {
  const feeds: Feeds = {};
  for (const e of model.params.entries) feeds[e.name] = { data: w.get(e.name)!, dims: e.shape as number[] };
  return feeds;
}

function wireOf(label: string, w: WeightMap, model: LoadedModel): WeightSetWire {
  return { label, tensors: Object.fromEntries(model.params.entries.map((e) => [e.name, { data: w.get(e.name)!, dims: [...e.shape] }])) };
}
