// The Generator contract on the engine: batched sampling with a KV cache shared by all callers,
// streaming, teacher-forced scoring, model info, and weight pushes that never change weights under a
// running request.
import { create } from '@bufbuild/protobuf';
import type { GeneratorService } from '@juice/proto';
import { GenerateStreamResponseSchema, LogprobSource, PromptResultSchema, SampleSchema, TopLogprobsSchema, validateGenerate, validateScoreCompletions, type GenerateRequest, type GenerateStreamRequest } from '@juice/proto';
import { InputError, promptTokenIds, resolveSampling, runSample, scoreCompletions, scorePrompts, seedOf, type Piece } from '@juice/inference';
import { failedPrecondition, internal, invalidArgument, rejectInvalid, unimplemented, type ServiceImpl } from '@juice/service-kit';
import { randomBytes } from 'node:crypto';
import type { ModelHost } from './model-host.js';
import { activate, pushWeights, removeAdapter } from './push.js';
import type { GeneratorMetrics } from './telemetry.js';

/** The library's field errors as INVALID_ARGUMENT naming the field (details.field), like the validators'. */
function asFieldError(e: unknown): never {
  if (e instanceof InputError) rejectInvalid([{ field: e.field, problem: e.problem }]);
  throw e;
}

function fieldErrors<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    return asFieldError(e);
  }
}

/** sampling.prompt_logprobs is honoured by Generate as raw log-probs without alternatives; anything else is refused. */
function checkPromptLogprobs(req: GenerateRequest | GenerateStreamRequest, method: 'Generate' | 'GenerateStream'): boolean {
  const s = req.sampling;
  if (!s?.promptLogprobs) return false;
  if (method === 'GenerateStream') throw invalidArgument('sampling.prompt_logprobs', 'GenerateStreamResponse has no field for prompt log-probs; request them with Generate');
  if (s.topLogprobs > 0) {
    throw unimplemented('sampling.top_logprobs > 0 with sampling.prompt_logprobs: this generator does not compute prompt_top_logprobs; set top_logprobs to 0 to get prompt_logprobs', { field: 'sampling.top_logprobs' });
  }
  if (s.logprobSource === LogprobSource.PROCESSED) {
    throw unimplemented('sampling.logprob_source PROCESSED with sampling.prompt_logprobs: prompt tokens are not sampled, so only their raw log-probs (LOGPROB_SOURCE_RAW) are computed', { field: 'sampling.logprob_source' });
  }
  return true;
}

const top = (t: { ids: number[]; logprobs: number[] }) => create(TopLogprobsSchema, { tokenIds: t.ids, logprobs: t.logprobs });

export function createGeneratorService(host: ModelHost, metrics?: GeneratorMetrics): Partial<ServiceImpl<typeof GeneratorService>> {
  const info = host.info();
  const limits = { vocabSize: info.vocabSize, contextLength: info.contextLength, hasChatTemplate: info.tokenizer?.hasChatTemplate };

  const prepare = (req: GenerateRequest | GenerateStreamRequest) => {
    rejectInvalid(validateGenerate(req, limits));
    if (req.minWeightVersion > host.weights.active.number) {
      throw failedPrecondition(`min_weight_version ${req.minWeightVersion} is not served yet (serving ${host.weights.active.number})`);
    }
    const s = resolveSampling(req.sampling);
    const seed = s.seed ?? randomBytes(8).readBigUInt64LE();
    const prompts = fieldErrors(() => promptTokenIds(host, req.prompts));
    host.checkAdapter(req.adapter);
    return { s, seed, prompts, n: req.n || 1, adapter: req.adapter };
  };

  return {
    async generate(req, ctx) {
      const wantPromptLogprobs = checkPromptLogprobs(req, 'Generate');
      const { s, seed, prompts, n, adapter } = prepare(req);
      const sampling = Promise.all(prompts.flatMap((ids) => Array.from({ length: n }, (_, j) => runSample(host, ids, s, seedOf(seed, j), ctx.signal, undefined, adapter))));
      // Posted in the same tick as the samples, so the scorer runs on the samples' weight version.
      const promptScoring = wantPromptLogprobs ? scorePrompts(host, prompts, adapter) : undefined;
      const samples = await sampling;
      const promptLogprobs = await promptScoring?.logprobs;
      if (promptScoring && samples[0] && promptScoring.version !== samples[0].weightVersion) {
        throw internal(`prompt_logprobs were scored by weight version ${promptScoring.version}, the samples by ${samples[0].weightVersion}`);
      }
      const generated = samples.reduce((a, x) => a + x.tokenIds.length, 0);
      ctx.span.setAttributes({ 'juice.prompts': prompts.length, 'juice.samples': samples.length, 'juice.prompt_tokens': prompts.reduce((a, p) => a + p.length, 0), 'juice.completion_tokens': generated });
      metrics?.tokens(generated, { rpc: 'Generate' });
      const results = prompts.map((ids, i) =>
        create(PromptResultSchema, {
          promptIndex: i,
          promptTokenIds: req.echo ? ids : [],
          promptText: req.echo ? host.promptText(req.prompts[i]!) : '',
          promptLogprobs: promptLogprobs?.[i] ?? [],
          usage: { promptTokens: BigInt(ids.length), completionTokens: BigInt(samples.slice(i * n, (i + 1) * n).reduce((a, x) => a + x.tokenIds.length, 0)) },
          samples: samples.slice(i * n, (i + 1) * n).map((x, j) =>
            create(SampleSchema, {
              sampleIndex: j,
              text: x.text,
              tokenIds: x.tokenIds,
              logprobs: x.logprobs,
              topLogprobs: x.top.map(top),
              cumulativeLogprob: x.logprobs.reduce((a, v) => a + v, 0),
              finishReason: x.finishReason,
              matchedStop: x.matchedStop,
              stopTokenId: x.stopTokenId,
              seed: x.seed,
              decodingMode: x.decodingMode,
              weightVersion: x.weightVersion,
            }),
          ),
        }),
      );
      const version = samples[0]?.weightVersion ?? host.weights.active.number;
      return {
        results,
        weightVersion: { number: version, label: host.weights.weightsOf(version) ? (host.weights.active.number === version ? host.weights.active.label : '') : '' },
        usage: { promptTokens: BigInt(prompts.reduce((a, p) => a + p.length, 0)), completionTokens: BigInt(samples.reduce((a, x) => a + x.tokenIds.length, 0)) },
      };
    },

    async *generateStream(req, ctx) {
      checkPromptLogprobs(req, 'GenerateStream');
      const { s, seed, prompts, n, adapter } = prepare(req);
      // Pieces of all samples funnel through one queue; the stream ends when every sample has finished.
      const queue: ReturnType<typeof create<typeof GenerateStreamResponseSchema>>[] = [];
      let wake: (() => void) | undefined;
      let pending = prompts.length * n;
      let failure: unknown;
      const push = (m: (typeof queue)[number]) => {
        queue.push(m);
        wake?.();
      };
      prompts.forEach((ids, i) => {
        for (let j = 0; j < n; j++) {
          let first = true;
          const onPiece = (p: Piece) => {
            push(create(GenerateStreamResponseSchema, { promptIndex: i, sampleIndex: j, tokenIds: p.tokenIds, text: p.text, logprobs: p.logprobs, topLogprobs: p.top.map(top), ...(first && req.echo && j === 0 ? { promptTokenIds: ids, promptText: host.promptText(req.prompts[i]!) } : {}) }));
            first = false;
          };
          runSample(host, ids, s, seedOf(seed, j), ctx.signal, onPiece, adapter)
            .then((x) => push(create(GenerateStreamResponseSchema, { promptIndex: i, sampleIndex: j, finished: true, finishReason: x.finishReason, matchedStop: x.matchedStop, stopTokenId: x.stopTokenId, seed: x.seed, decodingMode: x.decodingMode, weightVersion: x.weightVersion, usage: { promptTokens: BigInt(ids.length), completionTokens: BigInt(x.tokenIds.length) } })))
            .catch((e) => (failure ??= e))
            .finally(() => {
              pending--;
              wake?.();
            });
        }
      });
      for (;;) {
        while (queue.length) yield queue.shift()!;
        if (failure) throw failure;
        if (pending === 0) return;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
    },

    async scoreCompletions(req, ctx) {
      rejectInvalid(validateScoreCompletions(req, limits));
      host.checkAdapter(req.adapter);
      if (req.minWeightVersion > host.weights.active.number) throw failedPrecondition(`min_weight_version ${req.minWeightVersion} is not served yet (serving ${host.weights.active.number})`);
      // The scorer holds the base and every held adapter's stacks; the adapter picks its columns.
      const { results, version: scoredBy } = await scoreCompletions(host, req.items, req.tokenLogprobs || req.topLogprobs > 0, ctx.signal, req.adapter).catch(asFieldError);
      const version = { number: scoredBy, label: host.weights.active.number === scoredBy ? host.weights.active.label : '' };
      ctx.span.setAttributes({ 'juice.items': results.length, 'juice.completion_tokens': results.reduce((a, r) => a + r.numTokens, 0) });
      return { results, weightVersion: version, usage: { promptTokens: BigInt(results.reduce((a, r) => a + r.numPromptTokens, 0)), completionTokens: BigInt(results.reduce((a, r) => a + r.numTokens, 0)) } };
    },

    async getModelInfo() {
      return { model: { ...host.info(), weightVersion: host.version() } };
    },

    async getWeightVersion() {
      const staged = host.weights.staged;
      return { active: host.version(), staged: staged ? { number: staged.number, label: staged.label } : undefined };
    },

    async pushWeights(chunks, ctx) {
      return pushWeights(host, chunks, ctx.signal, ctx.log);
    },

    async activateWeights(req, ctx) {
      return await activate(host, req.version, ctx.log);
    },

    async removeAdapter(req) {
      return await removeAdapter(host, req.name);
    },
  };
}
