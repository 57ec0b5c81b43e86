// Turns one position's logits into a token, in the order the contract states (SamplingParams):
// repetition/frequency/presence penalties, temperature, top-k, top-p, min-p, then sample or argmax.
// Runs in JS over the Float32Array ORT returns: vocabularies are small enough that one pass plus a
// partial sort of the surviving candidates costs far less than the decode step that produced them.
import { Rng } from './rng.js';

export interface SamplingOptions {
  /** 0 = greedy. Default 1. */
  temperature: number;
  /** (0, 1]; 1 = off. */
  topP: number;
  /** 0 = off. */
  topK: number;
  /** [0, 1]; 0 = off. */
  minP: number;
  /** 0 or 1 = off. */
  repetitionPenalty: number;
  frequencyPenalty: number;
  presencePenalty: number;
  /** How many alternatives to report per position (0..20). */
  topLogprobs: number;
  /** Report log-probs from the processed distribution instead of the raw one. */
  processedLogprobs: boolean;
}

export const DEFAULT_SAMPLING: SamplingOptions = {
  temperature: 1,
  topP: 1,
  topK: 0,
  minP: 0,
  repetitionPenalty: 1,
  frequencyPenalty: 0,
  presencePenalty: 0,
  topLogprobs: 0,
  processedLogprobs: false,
};

export function isGreedy(o: SamplingOptions): boolean {
  return o.temperature === 0 || o.topK === 1;
}

/** Token occurrences a sample has seen, for the penalties. */
export class TokenHistory {
  /** Tokens of the prompt (repetition penalty counts them, the other penalties do not). */
  readonly prompt = new Set<number>();
  /** Generated token → count. */
  readonly output = new Map<number, number>();

  constructor(promptIds: Iterable<number> = []) {
    for (const t of promptIds) this.prompt.add(t);
  }

  push(token: number): void {
    this.output.set(token, (this.output.get(token) ?? 0) + 1);
  }
}

export interface SampledToken {
  token: number;
  /** Log-prob of `token` (raw or processed distribution, per options). */
  logprob: number;
  /** Most likely alternatives, descending, when topLogprobs > 0. */
  top?: { ids: number[]; logprobs: number[] };
}

function logSumExp(x: Float32Array | Float64Array, n: number): number {
  let m = -Infinity;
  for (let i = 0; i < n; i++) if (x[i]! > m) m = x[i]!;
  if (m === -Infinity) return -Infinity;
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.exp(x[i]! - m);
  return m + Math.log(s);
}

function topN(x: Float64Array, n: number, k: number): number[] {
  // Partial selection: keep a small sorted list; k is at most 20 here.
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = x[i]!;
    if (v === -Infinity) continue;
    if (ids.length < k || v > x[ids[ids.length - 1]!]!) {
      let j = ids.length < k ? ids.length : k - 1;
      if (ids.length < k) ids.push(i);
      while (j > 0 && x[ids[j - 1]!]! < v) {
        ids[j] = ids[j - 1]!;
        j--;
      }
      ids[j] = i;
    }
  }
  return ids;
}

/**
 * Picks the next token from `logits` (length vocab, not modified) for one sample.
 * `scratch` is reused between calls to avoid an allocation per token.
 */
export function sampleToken(
  logits: Float32Array,
  o: SamplingOptions,
  history: TokenHistory,
  rng: Rng | undefined,
  scratch: Float64Array = new Float64Array(logits.length),
  suppress?: ReadonlySet<number>,
): SampledToken {
  const n = logits.length;
  const x = scratch;
  for (let i = 0; i < n; i++) x[i] = logits[i]!;
  if (suppress) for (const t of suppress) if (t < n) x[t] = -Infinity;
  const rawLse = o.processedLogprobs ? 0 : logSumExp(logits, n);

  // Penalties (vLLM/HF semantics): repetition divides positive logits and multiplies negative ones.
  const rp = o.repetitionPenalty;
  if (rp !== 0 && rp !== 1) {
    const seen = new Set<number>(history.prompt);
    for (const t of history.output.keys()) seen.add(t);
    for (const t of seen) if (t < n) x[t] = x[t]! > 0 ? x[t]! / rp : x[t]! * rp;
  }
  if (o.frequencyPenalty !== 0 || o.presencePenalty !== 0) {
    for (const [t, c] of history.output) if (t < n) x[t] = x[t]! - o.frequencyPenalty * c - o.presencePenalty;
  }

  const greedy = isGreedy(o) || rng === undefined;
  if (!greedy && o.temperature !== 1) for (let i = 0; i < n; i++) x[i] = x[i]! / o.temperature;

  if (!greedy && (o.topK > 0 || o.topP < 1 || o.minP > 0)) truncate(x, n, o);

  let token = 0;
  if (greedy) {
    let best = -Infinity;
    for (let i = 0; i < n; i++) if (x[i]! > best) (best = x[i]!), (token = i);
  } else {
    const lse = logSumExp(x, n);
    let u = rng!.nextFloat();
    token = -1;
    for (let i = 0; i < n; i++) {
      const p = Math.exp(x[i]! - lse);
      if (p === 0) continue;
      token = i;
      u -= p;
      if (u < 0) break;
    }
  }

  let logprob: number;
  let top: SampledToken['top'];
  if (o.processedLogprobs) {
    const lse = logSumExp(x, n);
    logprob = x[token]! - lse;
    if (o.topLogprobs > 0) {
      const ids = topN(x, n, o.topLogprobs);
      top = { ids, logprobs: ids.map((i) => x[i]! - lse) };
    }
  } else {
    logprob = logits[token]! - rawLse;
    if (o.topLogprobs > 0) {
      for (let i = 0; i < n; i++) x[i] = logits[i]!;
      const ids = topN(x, n, o.topLogprobs);
      top = { ids, logprobs: ids.map((i) => logits[i]! - rawLse) };
    }
  }
  return top ? { token, logprob, top } : { token, logprob };
}

/** top-k, then top-p over what is left, then min-p: masks the rest to -Infinity in place. */
function truncate(x: Float64Array, n: number, o: SamplingOptions): void {
  let ids = Array.from({ length: n }, (_, i) => i).filter((i) => x[i]! > -Infinity);
  ids.sort((a, b) => x[b]! - x[a]! || a - b);
  if (o.topK > 0 && ids.length > o.topK) ids = ids.slice(0, o.topK);
  const max = x[ids[0]!]!;
  let z = 0;
  const p = ids.map((i) => Math.exp(x[i]! - max));
  for (const v of p) z += v;
  let keep = ids.length;
  if (o.topP < 1) {
    let cum = 0;
    for (let j = 0; j < ids.length; j++) {
      cum += p[j]! / z;
      if (cum >= o.topP) {
        keep = j + 1;
        break;
      }
    }
  }
  if (o.minP > 0) {
    // p_j / p_max >= min_p, with p_max = p[0] / z.
    let j = 0;
    while (j < keep && p[j]! >= o.minP * p[0]!) j++;
    keep = Math.max(1, j);
  }
  const kept = new Set(ids.slice(0, keep));
  for (let i = 0; i < n; i++) if (!kept.has(i)) x[i] = -Infinity;
}
