// The contract's SamplingParams → the engine's options, with the defaults the proto states.
import { LogprobSource, type SamplingParams } from '@juice/proto';
import { DEFAULT_SAMPLING, type SamplingOptions } from '@juice/runtime';

export interface ResolvedSampling {
  options: SamplingOptions;
  maxNewTokens: number;
  minNewTokens: number;
  stop: string[];
  stopTokenIds: number[];
  ignoreEos: boolean;
  logprobs: boolean;
  includeStop: boolean;
  keepSpecial: boolean;
  /** Unset: the server picks one per request (reported per sample). */
  seed?: bigint;
}

export function resolveSampling(s: SamplingParams | undefined): ResolvedSampling {
  const rp = s?.repetitionPenalty ?? 0;
  return {
    options: {
      ...DEFAULT_SAMPLING,
      temperature: s?.temperature ?? 1,
      topP: s?.topP ?? 1,
      topK: s?.topK ?? 0,
      minP: s?.minP ?? 0,
      repetitionPenalty: rp === 0 ? 1 : rp,
      frequencyPenalty: s?.frequencyPenalty ?? 0,
      presencePenalty: s?.presencePenalty ?? 0,
      topLogprobs: s?.topLogprobs ?? 0,
      processedLogprobs: s?.logprobSource === LogprobSource.PROCESSED,
    },
    maxNewTokens: s?.maxNewTokens || 256,
    minNewTokens: s?.minNewTokens ?? 0,
    stop: s?.stop ?? [],
    stopTokenIds: s?.stopTokenIds ?? [],
    ignoreEos: s?.ignoreEos ?? false,
    logprobs: s?.logprobs ?? false,
    includeStop: s?.includeStopInOutput ?? false,
    keepSpecial: s?.keepSpecialTokens ?? false,
    seed: s?.seed,
  };
}
