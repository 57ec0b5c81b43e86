// One sample end to end: engine tokens in, decoded text with stop strings out. Used by the generator's
// Generate (which collects) and GenerateStream (which forwards each piece as it is produced), and by the
// evaluator's in-process model, so a checkpoint decodes the same way in both.
import { DecodingMode, FinishReason } from '@juice/proto';
import { isGreedy, sampleSeed, StopStringMatcher } from '@juice/runtime';
import type { ResolvedSampling } from './sampling.js';
import type { ServedLm } from './served-lm.js';

export interface SampleOutput {
  text: string;
  tokenIds: number[];
  logprobs: number[];
  top: { ids: number[]; logprobs: number[] }[];
  finishReason: FinishReason;
  matchedStop: string;
  stopTokenId?: number;
  seed: bigint;
  decodingMode: DecodingMode;
  weightVersion: bigint;
}

export interface Piece {
  tokenIds: number[];
  text: string;
  logprobs: number[];
  top: { ids: number[]; logprobs: number[] }[];
}

/** Seed of sample j: the request's seed for sample 0 (so re-sending with n=1 reproduces it), derived ones after. */
export function seedOf(requestSeed: bigint, sampleIndex: number): bigint {
  return sampleIndex === 0 ? requestSeed : sampleSeed(requestSeed, sampleIndex);
}

export async function runSample(host: Pick<ServedLm, 'model' | 'engine' | 'contextLength'>, promptIds: number[], s: ResolvedSampling, seed: bigint, signal: AbortSignal, onPiece?: (p: Piece) => void, adapter = ''): Promise<SampleOutput> {
  const tok = host.model.tokenizer;
  const detok = tok.detokenizer({ skipSpecialTokens: !s.keepSpecial });
  const matcher = new StopStringMatcher(s.stop, s.includeStop);
  let text = '';
  let matchedStop = '';
  const top: { ids: number[]; logprobs: number[] }[] = [];
  const room = host.contextLength - promptIds.length;
  const maxNew = Math.max(1, Math.min(s.maxNewTokens, room));
  const eos = s.ignoreEos ? [] : tok.eosTokenIds;
  const result = await host.engine.submit({
    promptIds,
    maxNewTokens: maxNew,
    minNewTokens: s.minNewTokens,
    eosTokenIds: eos,
    stopTokenIds: s.stopTokenIds,
    sampling: s.options,
    seed,
    signal,
    ...(adapter ? { adapter } : {}),
    onToken: (token, logprob, alternatives) => {
      if (alternatives) top.push(alternatives);
      const m = matcher.push(detok(token));
      text += m.emit;
      onPiece?.({ tokenIds: [token], text: m.emit, logprobs: s.logprobs ? [logprob] : [], top: alternatives ? [alternatives] : [] });
      if (m.matched !== undefined) {
        matchedStop = m.matched;
        return true;
      }
      return false;
    },
  });
  if (!matchedStop) {
    const rest = matcher.flush();
    text += rest;
    if (rest) onPiece?.({ tokenIds: [], text: rest, logprobs: [], top: [] });
  }
  const last = result.tokens.at(-1);
  const finishReason =
    result.finish === 'eos' ? FinishReason.EOS
    : result.finish === 'stop' ? FinishReason.STOP
    : result.finish === 'cancelled' ? FinishReason.CANCELLED
    : s.maxNewTokens > room && result.tokens.length >= maxNew ? FinishReason.CONTEXT_LENGTH
    : FinishReason.LENGTH;
  return {
    text,
    tokenIds: result.tokens,
    logprobs: s.logprobs ? result.logprobs : [],
    top,
    finishReason,
    matchedStop,
    stopTokenId: result.finish === 'eos' || (result.finish === 'stop' && !matchedStop) ? last : undefined,
    seed,
    decodingMode: isGreedy(s.options) ? DecodingMode.GREEDY : DecodingMode.SAMPLING,
    weightVersion: BigInt(result.weights),
  };
}
