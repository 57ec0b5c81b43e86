// Continuous batching for many concurrent callers: requests wait in a bounded queue, join the running
// batch at a step boundary (their prompts are prefilled together), and leave it as soon as they finish,
// so one caller's long generation never holds others back. Every request runs on the weight set that
// was current when it arrived: new weights are taken once no running or waiting request needs the old
// ones, so a call's samples never mix versions.
import { StatusError } from '@juice/proto/status-error';
import type { Runner } from '../session.js';
import type { Feeds, TensorLike } from '../tensor.js';
import { Rng } from '../sampling/rng.js';
import { DEFAULT_SAMPLING, isGreedy, sampleToken, TokenHistory, type SamplingOptions } from '../sampling/sampler.js';
import { KvCache } from './kv-cache.js';
import type { DecoderSpec, FinishReason } from './decoder.js';

export interface EngineRequest {
  promptIds: readonly number[];
  maxNewTokens: number;
  minNewTokens?: number;
  eosTokenIds: readonly number[];
  stopTokenIds?: readonly number[];
  sampling?: SamplingOptions;
  seed?: bigint;
  /** Each generated token as it is produced; return true to end the row ("stop", e.g. a stop string). */
  onToken?: (token: number, logprob: number, top?: { ids: number[]; logprobs: number[] }) => boolean | void;
  signal?: AbortSignal;
  /** LoRA adapter of the weight set to generate with ('' or unset = the base); unknown names fail NOT_FOUND. */
  adapter?: string;
}

/**
 * Adapters of a weight set served through the stacked multi-LoRA graphs: S mask columns in all, and
 * each adapter's column range. Rows feed `lora_row_mask` with 1 on their adapter's columns.
 */
export interface EngineLora {
  columns: number;
  ranges: Record<string, { offset: number; rank: number }>;
}

/** The per-row adapter mask input of the multi-LoRA generation graphs (@juice/models LORA_ROW_MASK_INPUT). */
const LORA_ROW_MASK = 'lora_row_mask';

export interface EngineResult {
  tokens: number[];
  logprobs: number[];
  finish: FinishReason | 'cancelled';
  /** The weight-set label the request ran on. */
  weights: string;
}

export class QueueFullError extends StatusError {
  constructor(message: string) {
    super('RESOURCE_EXHAUSTED', message);
    this.name = 'QueueFullError';
  }
}

interface Row {
  req: EngineRequest;
  /** The weight set that was current when the request arrived: it runs on exactly that one. */
  weights: string;
  history: TokenHistory;
  rng?: Rng;
  result: EngineResult;
  resolve: (r: EngineResult) => void;
  reject: (e: unknown) => void;
  done: boolean;
  /** The row's adapter columns in the served weight set (unset: the base). */
  lora?: { offset: number; rank: number };
}

/** A weight set the engine serves: its label (version), the feeds, and its adapters when served with multi-LoRA graphs. */
export interface EngineWeights {
  label: string;
  feeds: Feeds;
  lora?: EngineLora;
}

export interface EngineOptions {
  /** Rows decoded together. Default 16. */
  maxBatch?: number;
  /** Requests waiting beyond this are refused (RESOURCE_EXHAUSTED). Default 256. */
  maxQueue?: number;
  /** KV positions per row (prompt + generated). Default: the model's context length. */
  contextLength: number;
}

export class BatchEngine {
  private readonly queue: Row[] = [];
  private readonly active: Row[] = [];
  private readonly cache: KvCache;
  private readonly maxBatch: number;
  private readonly maxQueue: number;
  private running = false;
  private weights: EngineWeights;
  private pending?: EngineWeights;
  private readonly scratch: Float64Array;
  /** Steps run (prefill or decode), for metrics. */
  steps = 0;

  constructor(
    private readonly prefill: Runner,
    private readonly decode: Runner,
    private readonly spec: DecoderSpec,
    weights: EngineWeights,
    private readonly o: EngineOptions,
  ) {
    this.maxBatch = o.maxBatch ?? 16;
    this.maxQueue = o.maxQueue ?? 256;
    this.cache = new KvCache(spec, this.maxBatch, o.contextLength);
    this.weights = weights;
    this.scratch = new Float64Array(spec.vocabSize);
  }

  get queueDepth(): number {
    return this.queue.length;
  }

  get activeRows(): number {
    return this.active.length;
  }

  /** A step may be computing (rows wait, run, or are being prefilled): the weights' arrays are in use. */
  get busy(): boolean {
    return this.running || this.queue.length > 0 || this.active.length > 0;
  }

  /** The weight set new requests will run on (after the current batch drains). */
  setWeights(weights: EngineWeights): void {
    this.pending = weights;
    this.kick();
  }

  get weightLabel(): string {
    return (this.pending ?? this.weights).label;
  }

  submit(req: EngineRequest): Promise<EngineResult> {
    if (req.promptIds.length === 0) return Promise.reject(new Error('empty prompt'));
    if (req.promptIds.length + req.maxNewTokens > this.o.contextLength) {
      return Promise.reject(new StatusError('INVALID_ARGUMENT', `prompt (${req.promptIds.length}) + max_new_tokens (${req.maxNewTokens}) exceeds the context length ${this.o.contextLength}`, { retryable: false }));
    }
    if (this.queue.length >= this.maxQueue) return Promise.reject(new QueueFullError(`generation queue is full (${this.maxQueue} waiting requests); retry with back-off`));
    return new Promise<EngineResult>((resolve, reject) => {
      const sampling = req.sampling ?? DEFAULT_SAMPLING;
      this.queue.push({
        req,
        weights: this.weightLabel,
        history: new TokenHistory(req.promptIds),
        rng: isGreedy(sampling) ? undefined : new Rng(req.seed ?? 0n),
        result: { tokens: [], logprobs: [], finish: 'length', weights: '' },
        resolve,
        reject,
        done: false,
      });
      this.kick();
    });
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    void this.loop().finally(() => {
      this.running = false;
      if (this.queue.length || this.active.length) this.kick();
    });
  }

  private async loop(): Promise<void> {
    while (this.queue.length || this.active.length) {
      try {
        // Swap to new weights once nothing running or waiting still needs the old ones.
        if (this.pending && this.active.length === 0 && !this.queue.some((r) => r.weights === this.weights.label)) {
          this.weights = this.pending;
          this.pending = undefined;
          // Nothing computed under the old weights survives the swap: the engine then serves exactly
          // what a fresh load of the new weights would (see KvCache.written for why stale slots matter).
          this.cache.clear();
        }
        if (this.queue.length && this.active.length < this.maxBatch) await this.admit();
        if (this.active.length) await this.step();
      } catch (e) {
        for (const r of [...this.active]) this.finish(r, undefined, e);
      }
      // Yield to the event loop between steps: health checks, cancellations and new callers get in.
      await new Promise<void>((r) => setImmediate(r));
    }
  }

  private async admit(): Promise<void> {
    // Only requests for the weights being served join; later ones wait for the swap.
    const room = this.maxBatch - this.active.length;
    const taken: Row[] = [];
    for (let i = 0; i < this.queue.length && taken.length < room; ) {
      if (this.queue[i]!.weights === this.weights.label) taken.push(...this.queue.splice(i, 1));
      else i++;
    }
    const rows = taken.filter((r) => {
      if (r.req.signal?.aborted) {
        r.result.finish = 'cancelled';
        r.resolve(r.result);
        return false;
      }
      if (r.req.adapter) {
        const range = this.weights.lora?.ranges[r.req.adapter];
        if (!range || !Object.hasOwn(this.weights.lora!.ranges, r.req.adapter)) {
          r.done = true;
          r.reject(new StatusError('NOT_FOUND', `adapter ${JSON.stringify(r.req.adapter.slice(0, 64))} is not served by weight version ${this.weights.label}`, { retryable: false }));
          return false;
        }
        r.lora = range;
      }
      return true;
    });
    if (!rows.length) return;
    const B = rows.length;
    const T = Math.max(...rows.map((r) => r.req.promptIds.length));
    const ids = new BigInt64Array(B * T);
    const mask = new BigInt64Array(B * T);
    rows.forEach((r, b) => r.req.promptIds.forEach((t, i) => ((ids[b * T + i] = BigInt(t)), (mask[b * T + i] = 1n))));
    const out = await this.prefill.run({ ...this.weights.feeds, ...this.loraMask(rows, T), input_ids: { data: ids, dims: [B, T] }, attention_mask: { data: mask, dims: [B, T] } });
    this.steps++;
    const first = this.active.length;
    const present = Array.from({ length: this.spec.layers }, (_, l) => ({ key: out[`present.${l}.key`]!.data as Float32Array, value: out[`present.${l}.value`]!.data as Float32Array }));
    this.cache.writePrefill(present, T, rows.map((_, b) => first + b), rows.map((r) => r.req.promptIds.length));
    for (const r of rows) r.result.weights = this.weights.label;
    this.active.push(...rows);
    const logits = out.logits!.data as Float32Array;
    rows.forEach((r, b) => this.take(r, logits, b, first + b));
    this.compact();
  }

  private async step(): Promise<void> {
    const n = this.active.length;
    const tok = new BigInt64Array(n);
    const pos = new BigInt64Array(n);
    this.active.forEach((r, i) => {
      tok[i] = BigInt(r.result.tokens.at(-1)!);
      pos[i] = BigInt(this.cache.lengths[i]!);
    });
    const feeds: Record<string, TensorLike | Feeds[string]> = { ...this.weights.feeds, ...this.loraMask(this.active, 1), ...this.cache.feeds(n, this.decode.inputNames.includes('past_positions')), input_ids: { data: tok, dims: [n, 1] }, position_ids: { data: pos, dims: [n, 1] } };
    const out = await this.decode.run(feeds as Feeds);
    this.steps++;
    this.cache.append(Array.from({ length: this.spec.layers }, (_, l) => ({ key: out[`new.${l}.key`]!.data as Float32Array, value: out[`new.${l}.value`]!.data as Float32Array })), n);
    const logits = out.logits!.data as Float32Array;
    this.active.forEach((r, i) => this.take(r, logits, i, i));
    this.compact();
  }

  /** `lora_row_mask` [rows·T, S]: 1 on each row's adapter columns (all T positions of the row); none without adapters. */
  private loraMask(rows: readonly Row[], T: number): Feeds {
    const lora = this.weights.lora;
    if (!lora) return {};
    const S = lora.columns;
    const m = new Float32Array(rows.length * T * S);
    rows.forEach((r, b) => {
      if (!r.lora) return;
      for (let t = 0; t < T; t++) m.fill(1, (b * T + t) * S + r.lora.offset, (b * T + t) * S + r.lora.offset + r.lora.rank);
    });
    return { [LORA_ROW_MASK]: { data: m, dims: [rows.length * T, S] } };
  }

  /** Samples row r's next token from logits row `i`; `row` is its KV-cache row. */
  private take(r: Row, logits: Float32Array, i: number, row: number): void {
    const V = this.spec.vocabSize;
    const req = r.req;
    if (req.signal?.aborted) return this.finish(r, 'cancelled');
    const eos = new Set(req.eosTokenIds);
    const suppress = (req.minNewTokens ?? 0) > r.result.tokens.length ? eos : undefined;
    const s = sampleToken(logits.subarray(i * V, (i + 1) * V), req.sampling ?? DEFAULT_SAMPLING, r.history, r.rng, this.scratch, suppress);
    r.result.tokens.push(s.token);
    r.result.logprobs.push(s.logprob);
    r.history.push(s.token);
    const stop = req.onToken?.(s.token, s.logprob, s.top) === true;
    if (eos.has(s.token)) this.finish(r, 'eos');
    else if (stop || req.stopTokenIds?.includes(s.token)) this.finish(r, 'stop');
    else if (r.result.tokens.length >= req.maxNewTokens || this.cache.lengths[row]! >= this.o.contextLength) this.finish(r, 'length');
  }

  private finish(r: Row, reason?: EngineResult['finish'], error?: unknown): void {
    if (r.done) return;
    r.done = true;
    if (error !== undefined) return r.reject(error);
    r.result.finish = reason!;
    r.resolve(r.result);
  }

  /** Finished rows leave; the last active row moves into each freed slot so the batch stays a prefix. */
  private compact(): void {
    for (let i = 0; i < this.active.length; ) {
      if (!this.active[i]!.done) {
        i++;
        continue;
      }
      const last = this.active.length - 1;
      if (i !== last) {
        this.cache.moveRow(last, i);
        this.active[i] = this.active[last]!;
      }
      this.active.pop();
    }
  }
}
