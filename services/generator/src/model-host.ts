// What the generator serves: a loaded model, its generation and scoring sessions, the batching engine
// and the versioned weights. Prompts become token ids here (text, chat template, or verbatim tokens).
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { forwardOnly } from '@juice/autograd';
import { buildCausalLm, buildGenerationGraphs, encodePrompt, loadModel, promptText, type LoadedModel } from '@juice/models';
import { toModelBytes } from '@juice/onnx';
import { Dtype, ExecutionProvider, ModelHead, ModelInfoSchema, TokenizerInfoSchema, WeightVersionSchema, type ModelInfo, type Prompt, type WeightVersion } from '@juice/proto';
import { createSession, WorkerEngine, type Feeds, type Session, type WeightSetWire } from '@juice/runtime';
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
    readonly scorer: Session,
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
    const scorer = await createSession(toModelBytes(forwardOnly(lm.graph, ['token_logprobs', 'token_is_greedy'])));
    return new ModelHost(model, engine, scorer, initial);
  }

  get contextLength(): number {
    return this.model.config.maxPositions;
  }

  feeds(w: WeightMap): Feeds {
    return feedsOf(w, this.model);
  }

  /** Hands a weight set to the generation worker (requests that arrive from now on use it). */
  serveWeights(label: string, w: WeightMap): void {
    this.engine.setWeights(wireOf(label, w, this.model));
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
    const c = this.model.config;
    const tok = this.model.tokenizer;
    return create(ModelInfoSchema, {
      architecture: c.architecture,
      modelName: this.model.name,
      modelPath: this.model.dir,
      weightVersion: this.version(),
      parameterCount: BigInt(this.model.params.numParams),
      vocabSize: c.vocabSize,
      contextLength: c.maxPositions,
      dtype: Dtype.FLOAT32,
      executionProvider: ExecutionProvider.CPU,
      head: ModelHead.CAUSAL_LM,
      numLayers: c.numLayers,
      hiddenSize: c.hiddenSize,
      numAttentionHeads: c.numHeads,
      numKeyValueHeads: c.numKvHeads,
      modelSha256: this.model.sha256,
      tokenizer: create(TokenizerInfoSchema, {
        kind: tok.kind,
        vocabSize: tok.vocabSize,
        bosTokenId: tok.bosTokenId,
        eosTokenIds: tok.eosTokenIds,
        padTokenId: tok.padTokenId,
        addBosToken: tok.addBosToken,
        hasChatTemplate: tok.hasChatTemplate,
        chatTemplate: tok.chatTemplate,
      }),
    });
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
