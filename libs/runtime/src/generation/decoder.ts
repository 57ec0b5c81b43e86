// Batched generation with a KV cache: one prefill for all prompts (right padded), then one decode step
// per token for every unfinished row. Each row samples from its own seeded stream, so a row's tokens do
// not depend on what else is in the batch. (Scheduling many callers onto batches is the generator
// service's job; this is the loop it drives.)
import type { Runner } from '../session.js';
import type { Feeds, TensorLike } from '../tensor.js';
import { Rng } from '../sampling/rng.js';
import { DEFAULT_SAMPLING, isGreedy, sampleToken, TokenHistory, type SamplingOptions } from '../sampling/sampler.js';
import { KvCache, type KvShape } from './kv-cache.js';

export interface DecoderSpec extends KvShape {
  vocabSize: number;
}

export type FinishReason = 'eos' | 'stop' | 'length';

export interface GenerateOptions {
  maxNewTokens: number;
  /** Generation ends at any of these (unless ignoreEos; they still count as tokens). */
  eosTokenIds: readonly number[];
  stopTokenIds?: readonly number[];
  minNewTokens?: number;
  sampling?: SamplingOptions;
  /** One seed per prompt (sampling); ignored when greedy. */
  seeds?: readonly bigint[];
  /** Called after every token of every row; return true to end that row ("stop"), e.g. on a stop string. */
  onToken?: (row: number, token: number, logprob: number) => boolean | void;
  signal?: AbortSignal;
}

export interface GeneratedRow {
  tokens: number[];
  logprobs: number[];
  top?: { ids: number[]; logprobs: number[] }[];
  finish: FinishReason;
}

export class Decoder {
  constructor(
    private readonly prefill: Runner,
    private readonly decode: Runner,
    readonly spec: DecoderSpec,
  ) {}

  async generate(prompts: readonly (readonly number[])[], weights: Feeds, o: GenerateOptions): Promise<GeneratedRow[]> {
    const B = prompts.length;
    const { vocabSize: V, layers } = this.spec;
    const sampling = o.sampling ?? DEFAULT_SAMPLING;
    const T = Math.max(...prompts.map((p) => p.length));
    const ids = new BigInt64Array(B * T);
    const mask = new BigInt64Array(B * T);
    prompts.forEach((p, b) => p.forEach((t, i) => ((ids[b * T + i] = BigInt(t)), (mask[b * T + i] = 1n))));
    const pre = await this.prefill.run({ ...weights, input_ids: { data: ids, dims: [B, T] }, attention_mask: { data: mask, dims: [B, T] } });
    const cache = new KvCache(this.spec, B, T + o.maxNewTokens);
    const present = Array.from({ length: layers }, (_, l) => ({ key: pre[`present.${l}.key`]!.data as Float32Array, value: pre[`present.${l}.value`]!.data as Float32Array }));
    cache.writePrefill(present, T, prompts.map((_, b) => b), prompts.map((p) => p.length));

    const rows: GeneratedRow[] = prompts.map(() => ({ tokens: [], logprobs: [], finish: 'length' }));
    if (sampling.topLogprobs > 0) for (const r of rows) r.top = [];
    const histories = prompts.map((p) => new TokenHistory(p));
    const rngs = prompts.map((_, b) => (isGreedy(sampling) ? undefined : new Rng(o.seeds?.[b] ?? BigInt(b))));
    const done = new Array<boolean>(B).fill(false);
    const eos = new Set(o.eosTokenIds);
    const stops = new Set(o.stopTokenIds ?? []);
    const scratch = new Float64Array(V);
    // Row r of the decode batch is prompt order[r]; finished prompts are swapped out of the front.
    const order = prompts.map((_, b) => b);
    let active = B;

    const take = (logits: Float32Array, r: number) => {
      const b = order[r]!;
      const row = rows[b]!;
      const suppress = (o.minNewTokens ?? 0) > row.tokens.length ? eos : undefined;
      const s = sampleToken(logits.subarray(r * V, (r + 1) * V), sampling, histories[b]!, rngs[b], scratch, suppress);
      row.tokens.push(s.token);
      row.logprobs.push(s.logprob);
      if (s.top) row.top!.push(s.top);
      histories[b]!.push(s.token);
      const stoppedByCaller = o.onToken?.(b, s.token, s.logprob) === true;
      if (eos.has(s.token)) (row.finish = 'eos'), (done[b] = true);
      else if (stops.has(s.token) || stoppedByCaller) (row.finish = 'stop'), (done[b] = true);
      else if (row.tokens.length >= o.maxNewTokens) (row.finish = 'length'), (done[b] = true);
    };

    const logits0 = pre.logits!.data as Float32Array;
    for (let r = 0; r < B; r++) take(logits0, r);
    for (;;) {
      o.signal?.throwIfAborted();
      // Compact: keep unfinished rows in front so the next step feeds a contiguous prefix of the cache.
      for (let r = 0; r < active; ) {
        if (done[order[r]!]) {
          active--;
          if (r !== active) {
            cache.moveRow(active, r);
            [order[r], order[active]] = [order[active]!, order[r]!];
          }
        } else r++;
      }
      if (active === 0) break;
      const tok = new BigInt64Array(active);
      const pos = new BigInt64Array(active);
      for (let r = 0; r < active; r++) {
        const row = rows[order[r]!]!;
        tok[r] = BigInt(row.tokens.at(-1)!);
        pos[r] = BigInt(cache.lengths[r]!);
      }
      const feeds: Record<string, TensorLike | Feeds[string]> = { ...weights, ...cache.feeds(active, this.decode.inputNames.includes('past_positions')), input_ids: { data: tok, dims: [active, 1] }, position_ids: { data: pos, dims: [active, 1] } };
      const out = await this.decode.run(feeds as Feeds);
      cache.append(Array.from({ length: layers }, (_, l) => ({ key: out[`new.${l}.key`]!.data as Float32Array, value: out[`new.${l}.value`]!.data as Float32Array })), active);
      const logits = out.logits!.data as Float32Array;
      for (let r = 0; r < active; r++) take(logits, r);
    }
    return rows;
  }
}
