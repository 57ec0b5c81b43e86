// A checkpoint loaded in the evaluator, answering the Generator contract's Generate, ScoreCompletions
// and GetModelInfo in-process. libs/eval's generatorEvalModel runs on top of it exactly as it runs on a
// live generator's gRPC client, so both targets share the request mapping (context/continuation pairs,
// chat turns, stop strings, batching), and the compute underneath is the generator's own code
// (@juice/inference): the same tokenization, scoring graph and decoding loop, in worker threads.
import { randomBytes } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import type { GeneratorClientLike } from '@juice/eval';
import { InputError, promptTokenIds, resolveSampling, runSample, scoreCompletions, seedOf, type ServedLm } from '@juice/inference';
import {
  GenerateRequestSchema,
  GenerateResponseSchema,
  GetModelInfoResponseSchema,
  ScoreCompletionsRequestSchema,
  ScoreCompletionsResponseSchema,
  validateGenerate,
  validateScoreCompletions,
  type ModelInfo,
} from '@juice/proto';
import { rejectInvalid } from '@juice/service-kit';

function asFieldError(e: unknown): never {
  if (e instanceof InputError) rejectInvalid([{ field: e.field, problem: e.problem }]);
  throw e;
}

export function localGenerator(lm: ServedLm, info: ModelInfo): GeneratorClientLike {
  const limits = { vocabSize: info.vocabSize, contextLength: info.contextLength, hasChatTemplate: info.tokenizer?.hasChatTemplate };
  const version = { number: lm.scorerVersion, label: info.weightVersion?.label ?? '' };
  const never = new AbortController().signal;

  return {
    async scoreCompletions(init, opts) {
      const req = create(ScoreCompletionsRequestSchema, init);
      rejectInvalid(validateScoreCompletions(req, limits));
      const { results } = await scoreCompletions(lm, req.items, req.tokenLogprobs || req.topLogprobs > 0, opts?.signal ?? never).catch(asFieldError);
      return create(ScoreCompletionsResponseSchema, { results, weightVersion: version });
    },

    async generate(init, opts) {
      const req = create(GenerateRequestSchema, init);
      rejectInvalid(validateGenerate(req, limits));
      let prompts: number[][];
      try {
        prompts = promptTokenIds(lm, req.prompts);
      } catch (e) {
        asFieldError(e);
      }
      const s = resolveSampling(req.sampling);
      const seed = s.seed ?? randomBytes(8).readBigUInt64LE();
      const n = req.n || 1;
      const signal = opts?.signal ?? never;
      // All samples go to the engine at once: it batches them the way the generator batches a request.
      const samples = await Promise.all(prompts.flatMap((ids) => Array.from({ length: n }, (_, j) => runSample(lm, ids, s, seedOf(seed, j), signal))));
      return create(GenerateResponseSchema, {
        results: prompts.map((_, i) => ({
          promptIndex: i,
          samples: samples.slice(i * n, (i + 1) * n).map((x, j) => ({
            sampleIndex: j,
            text: x.text,
            tokenIds: x.tokenIds,
            finishReason: x.finishReason,
            matchedStop: x.matchedStop,
            stopTokenId: x.stopTokenId,
            seed: x.seed,
            decodingMode: x.decodingMode,
            weightVersion: lm.scorerVersion,
          })),
        })),
        weightVersion: version,
      });
    },

    async getModelInfo() {
      return create(GetModelInfoResponseSchema, { model: info });
    },
  };
}
