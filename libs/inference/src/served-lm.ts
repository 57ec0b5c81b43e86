// What sampling and scoring need from a loaded causal LM, whoever serves it: the generator (with
// versioned weights pushed by the trainer) or the evaluator (a checkpoint loaded once). Both computes
// run in worker threads so the serving process's event loop (health, streams) stays responsive.
import { forwardOnly } from '@juice/autograd';
import { buildCausalLm, buildGenerationGraphs, LORA_ROW_MASK_INPUT, type LoadedModel } from '@juice/models';
import { toModelBytes } from '@juice/onnx';
import { WorkerEngine, WorkerSession, type EngineLora, type Feeds, type WeightSetWire } from '@juice/runtime';

/** A weight set with the multi-LoRA stacks and column ranges added (unchanged without adapters). */
export function withStacks(w: WeightSetWire, multiLora?: { lora: EngineLora; stacks: ReadonlyMap<string, { data: Float32Array; dims: number[] }> }): WeightSetWire {
  if (!multiLora) return w;
  return { ...w, lora: multiLora.lora, tensors: { ...w.tensors, ...Object.fromEntries(multiLora.stacks) } };
}

export type WeightMap = Map<string, Float32Array>;

/** What computing needs of the model once its weights are in the workers: the tokenizer and the config. */
export type LmModel = Pick<LoadedModel, 'tokenizer' | 'config'>;

export interface ServedLm {
  readonly model: LmModel;
  /** Generation: continuous batching with a KV cache, in its own worker with its own weight copy. */
  readonly engine: WorkerEngine;
  /** Teacher-forced scoring: one forward-only session with the weights pinned in its worker. */
  readonly scorer: WorkerSession;
  readonly contextLength: number;
  /** The weight version the scorer holds (stamped on scores). */
  readonly scorerVersion: bigint;
  /**
   * With served adapters: the column layout of the adapter stacks pinned in the scorer (updated in the
   * same tick as the pin is posted, so a run posted afterwards reads the layout its stacks have).
   */
  readonly scorerLora?: EngineLora;
}

/**
 * The scorer's `lora_row_mask` [rows, S] selecting `adapter`'s columns on every row ("" = none: the base),
 * or no feed when the scorer serves no adapters. A name the layout lacks is the caller's NOT_FOUND to
 * raise before posting; here it would silently score the base, so it throws.
 */
export function scorerAdapterFeeds(lora: EngineLora | undefined, adapter: string, rows: number): Feeds {
  if (!lora) {
    if (adapter) throw new Error(`adapter ${JSON.stringify(adapter)}: this scorer serves no adapters`);
    return {};
  }
  const S = lora.columns;
  const m = new Float32Array(rows * S);
  if (adapter) {
    const r = lora.ranges[adapter];
    if (!r) throw new Error(`adapter ${JSON.stringify(adapter)} is not in the scorer's adapter layout`);
    for (let i = 0; i < rows; i++) m.fill(1, i * S + r.offset, i * S + r.offset + r.rank);
  }
  return { [LORA_ROW_MASK_INPUT]: { data: m, dims: [rows, S] } };
}

export interface LmWorkerOptions {
  maxBatch: number;
  maxQueue: number;
  /** Label of the initial weight set: its version number as a decimal string (engine results carry it as `weights`). Default "0". */
  label?: string;
  /**
   * Serve named LoRA adapters: the generation graphs take stacked adapter inputs and a per-row mask
   * (@juice/models withStackedLora); `weights` must then hold the stacks too (stackAdapters).
   */
  multiLora?: { lora: EngineLora; stacks: ReadonlyMap<string, { data: Float32Array; dims: number[] }> };
}

/** The model's own weights, tensor by tensor (views into the flat parameter buffer). */
export function modelWeights(model: LoadedModel): WeightMap {
  return new Map(model.params.entries.map((e) => [e.name, model.params.view(e.name)]));
}

export function weightFeeds(w: WeightMap, model: LoadedModel): Feeds {
  const feeds: Feeds = {};
  for (const e of model.params.entries) feeds[e.name] = { data: w.get(e.name)!, dims: e.shape as number[] };
  return feeds;
}

export function weightWire(label: string, w: WeightMap, model: LoadedModel): WeightSetWire {
  return { label, tensors: Object.fromEntries(model.params.entries.map((e) => [e.name, { data: w.get(e.name)!, dims: [...e.shape] }])) };
}

/**
 * Starts the generation engine and the scoring session for `model` with `weights`. The scoring graph
 * emits token_is_greedy next to the log-probs, so lm-eval's is_greedy costs no second pass.
 */
export async function startLmWorkers(model: LoadedModel, weights: WeightMap, o: LmWorkerOptions): Promise<{ engine: WorkerEngine; scorer: WorkerSession }> {
  const { prefill, decode } = buildGenerationGraphs(model.config, 'float32', { multiLora: !!o.multiLora });
  const spec = { layers: model.config.numLayers, kvHeads: model.config.numKvHeads, headDim: model.config.headDim, vocabSize: model.config.vocabSize };
  // With adapters, the scorer takes the same stacks as the engine (and a row mask per run), so
  // ScoreCompletions with an adapter runs on the base it already holds plus that adapter's columns.
  const scoring = toModelBytes(forwardOnly(buildCausalLm(model.config, { greedy: true, stackedLora: !!o.multiLora }).graph, ['token_logprobs', 'token_is_greedy']));
  // Both workers start at once: each spends most of its start-up compiling its sessions, on its own thread.
  const [engine, scorer] = await Promise.allSettled([
    WorkerEngine.create({
      prefill: toModelBytes(prefill),
      decode: toModelBytes(decode),
      spec,
      engine: { maxBatch: o.maxBatch, maxQueue: o.maxQueue, contextLength: model.config.maxPositions },
      weights: withStacks(weightWire(o.label ?? '0', weights, model), o.multiLora),
    }),
    WorkerSession.create(scoring).then(async (s) => {
      try {
        await s.pin({ ...weightFeeds(weights, model), ...(o.multiLora ? Object.fromEntries(o.multiLora.stacks) : {}) });
        return s;
      } catch (e) {
        await s.close();
        throw e;
      }
    }),
  ]);
  if (engine.status === 'fulfilled' && scorer.status === 'fulfilled') return { engine: engine.value, scorer: scorer.value };
  if (engine.status === 'fulfilled') await engine.value.close();
  if (scorer.status === 'fulfilled') await scorer.value.close();
  throw engine.status === 'rejected' ? engine.reason : (scorer as PromiseRejectedResult).reason;
}
