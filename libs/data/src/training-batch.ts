// Tokenized examples -> the int64 tensors a causal-LM training graph takes (libs/models
// buildCausalLm: input_ids, attention_mask, labels, all [B, T]), right-padded.
//
// Labels are already shifted, as that graph expects: labels[t] is the token at t+1 when it is a
// response token, else -100 (prompt, padding, the last position). responseMask marks the same
// positions with 1, aligned with the graph's token_logprobs [B, T], so summing
// token_logprobs * responseMask per row gives log π(response | prompt) for DPO/IRFT/RFT.
import type { TokenizedExample } from './tokenize-examples.js';

export const IGNORE_INDEX = -100;

export interface TokenBatch {
  batchSize: number;
  seqLen: number;
  /** [batchSize, seqLen], row-major. */
  inputIds: BigInt64Array;
  /** 1 on real tokens, 0 on padding. */
  attentionMask: BigInt64Array;
  /** Shifted targets: response tokens, -100 elsewhere. */
  labels: BigInt64Array;
  /** 1 where labels hold a response token. */
  responseMask: Float32Array;
  promptLengths: number[];
  responseLengths: number[];
}

export interface BatchOptions {
  /** Padding id; default 0 (padding is masked anyway); padIdFor(tokenizer) gives the model's own. */
  padTokenId?: number;
  /** Round the padded length up to a multiple (fewer distinct shapes for kernel caches). */
  padToMultipleOf?: number;
  /** A fixed padded length (for fixed-shape graphs); a longer example is an error. */
  seqLen?: number;
}

/** The id used for padding given a tokenizer's special tokens. */
export function padIdFor(tok: { padTokenId?: number; eosTokenIds: readonly number[] }): number {
  return tok.padTokenId ?? tok.eosTokenIds[0] ?? 0;
}

export function collateBatch(examples: readonly TokenizedExample[], o: BatchOptions = {}): TokenBatch {
  if (examples.length === 0) throw new RangeError('cannot build a batch from zero examples');
  const longest = Math.max(...examples.map((e) => e.promptIds.length + e.responseIds.length));
  let seqLen = longest;
  if (o.padToMultipleOf && o.padToMultipleOf > 1) seqLen = Math.ceil(seqLen / o.padToMultipleOf) * o.padToMultipleOf;
  if (o.seqLen !== undefined) {
    if (longest > o.seqLen) throw new RangeError(`an example has ${longest} tokens, more than the fixed sequence length ${o.seqLen}; truncate to maxLength <= seqLen first`);
    seqLen = o.seqLen;
  }
  seqLen = Math.max(seqLen, 1);
  const B = examples.length;
  const pad = BigInt(o.padTokenId ?? 0);
  const inputIds = new BigInt64Array(B * seqLen).fill(pad);
  const attentionMask = new BigInt64Array(B * seqLen);
  const labels = new BigInt64Array(B * seqLen).fill(BigInt(IGNORE_INDEX));
  const responseMask = new Float32Array(B * seqLen);
  examples.forEach((e, b) => {
    const row = b * seqLen;
    const P = e.promptIds.length;
    const ids = [...e.promptIds, ...e.responseIds];
    ids.forEach((id, t) => {
      inputIds[row + t] = BigInt(id);
      attentionMask[row + t] = 1n;
    });
    e.responseIds.forEach((id, k) => {
      // Position P-1+k predicts response token k; with an empty prompt the first one has no context.
      const t = P - 1 + k;
      if (t < 0) return;
      labels[row + t] = BigInt(id);
      responseMask[row + t] = 1;
    });
  });
  return { batchSize: B, seqLen, inputIds, attentionMask, labels, responseMask, promptLengths: examples.map((e) => e.promptIds.length), responseLengths: examples.map((e) => e.responseIds.length) };
}

/**
 * The pairwise layout of DPO/IRFT/SPIN and Bradley-Terry (libs/algorithms pairwise.ts): 2B rows,
 * the first B chosen (demonstrations y*), the next B rejected (samples y'), row i pairs with B+i.
 */
export function collatePairBatch(chosen: readonly TokenizedExample[], rejected: readonly TokenizedExample[], o: BatchOptions = {}): TokenBatch {
  if (chosen.length !== rejected.length) throw new RangeError(`a pair batch needs as many chosen as rejected examples, got ${chosen.length} and ${rejected.length}`);
  return collateBatch([...chosen, ...rejected], o);
}

/** Per-row sums of per-token values over the response mask (e.g. token log-probs -> sequence log-probs). */
export function sumOverResponse(batch: Pick<TokenBatch, 'batchSize' | 'seqLen' | 'responseMask'>, perToken: ArrayLike<number>): Float64Array {
  const out = new Float64Array(batch.batchSize);
  for (let b = 0; b < batch.batchSize; b++) {
    let s = 0;
    for (let t = 0; t < batch.seqLen; t++) s += batch.responseMask[b * batch.seqLen + t]! * perToken[b * batch.seqLen + t]!;
    out[b] = s;
  }
  return out;
}
