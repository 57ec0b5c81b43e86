// EvalModel / RewardScorer over juice gRPC clients. The client types are structural (just the
// methods used, with the request init shapes createClient accepts), so this lib does not depend
// on service-kit and tests can pass plain objects.
import type { MessageInitShape } from '@bufbuild/protobuf';
import type {
  CompareRequestSchema,
  CompareResponse,
  GenerateRequestSchema,
  GenerateResponse,
  GetModelInfoRequestSchema,
  GetModelInfoResponse,
  PromptSchema,
  ScoreCompletionsRequestSchema,
  ScoreCompletionsResponse,
} from '@juice/proto';
import { cutAtStop, mapBatched } from './batch.js';
import type { ChatTurn, EvalModel, GenerateItem, GenerateResult, ModelCallOptions, RewardScorer, SamplingParamsInit } from './model.js';

interface RpcOptions {
  signal?: AbortSignal;
  deadlineMs?: number;
}

/** The part of `Client<typeof GeneratorService>` the evaluator uses. */
export interface GeneratorClientLike {
  scoreCompletions(req: MessageInitShape<typeof ScoreCompletionsRequestSchema>, opts?: RpcOptions): Promise<ScoreCompletionsResponse>;
  generate(req: MessageInitShape<typeof GenerateRequestSchema>, opts?: RpcOptions): Promise<GenerateResponse>;
  getModelInfo?(req: MessageInitShape<typeof GetModelInfoRequestSchema>, opts?: RpcOptions): Promise<GetModelInfoResponse>;
}

/** The part of `Client<typeof RewardModelService>` the evaluator uses. */
export interface RewardClientLike {
  compare(req: MessageInitShape<typeof CompareRequestSchema>, opts?: RpcOptions): Promise<CompareResponse>;
}

export interface AdapterOptions {
  /** Items per RPC. Default 16 (EvaluateRequest.batch_size default). */
  batchSize?: number;
  /** Sent as min_weight_version (EvalTarget.min_weight_version). */
  minWeightVersion?: bigint;
  /** The generator's LoRA adapter to evaluate (EvalTarget.adapter_name), sent on Generate and ScoreCompletions; "" = the base. */
  adapter?: string;
  /** Per-RPC deadline. */
  deadlineMs?: number;
  /** Name reported by info() when the client has no getModelInfo. */
  name?: string;
}

// The generator accepts at most 16 stop strings of 1..256 bytes; longer lists are cut here and
// the rest enforced client-side by cutAtStop.
const MAX_STOPS = 16;
const MAX_STOP_BYTES = 256;

type PromptInit = MessageInitShape<typeof PromptSchema>;

function promptOf(context: string, chat: ChatTurn[] | undefined): PromptInit {
  if (chat) return { kind: { case: 'chat', value: { messages: chat.map((m) => ({ role: m.role, content: m.content })) } } };
  return { kind: { case: 'text', value: context } };
}

/**
 * The request's SamplingParams: a plain init without $typeName (a spread message would keep its
 * $typeName and be taken for a complete message by create()), stops merged with `until`.
 */
function requestSampling(sampling: SamplingParamsInit, until: readonly string[]): SamplingParamsInit {
  const { $typeName: _typeName, ...rest } = sampling as SamplingParamsInit & { $typeName?: string };
  return { ...rest, stop: mergedStops(sampling, until) };
}

function mergedStops(sampling: SamplingParamsInit, until: readonly string[]): string[] {
  const all = [...(sampling.stop ?? []), ...until].filter((s) => s.length > 0 && Buffer.byteLength(s) <= MAX_STOP_BYTES);
  return [...new Set(all)].slice(0, MAX_STOPS);
}

/** Stable key of a generate item's decoding settings: items with equal keys share one GenerateRequest. */
function decodingKey(item: GenerateItem): string {
  return JSON.stringify([item.sampling, item.until], (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
}

/** Groups consecutive items with the same decoding settings, at most `size` per group. */
function groupConsecutive(items: readonly GenerateItem[], size: number): { start: number; items: GenerateItem[] }[] {
  const groups: { start: number; items: GenerateItem[]; key: string }[] = [];
  items.forEach((item, i) => {
    const key = decodingKey(item);
    const last = groups.at(-1);
    if (last && last.key === key && last.items.length < size) last.items.push(item);
    else groups.push({ start: i, items: [item], key });
  });
  return groups;
}

export function generatorEvalModel(client: GeneratorClientLike, opts: AdapterOptions = {}): EvalModel {
  const batchSize = opts.batchSize && opts.batchSize > 0 ? opts.batchSize : 16;
  const minWeightVersion = opts.minWeightVersion ?? 0n;
  const adapter = opts.adapter ?? '';
  let lastVersion = 0n;
  const rpc = (o?: ModelCallOptions): RpcOptions => ({ signal: o?.signal, deadlineMs: opts.deadlineMs });

  return {
    async loglikelihood(items, callOpts) {
      return mapBatched(
        items,
        batchSize,
        async (batch) => {
          const res = await client.scoreCompletions(
            {
              // An empty text context is sent as no prompt: the generator then scores from BOS.
              items: batch.map((it) => ({
                ...(it.context === '' && !it.chat ? {} : { prompt: promptOf(it.context, it.chat) }),
                completion: { kind: { case: 'text', value: it.continuation } },
              })),
              minWeightVersion,
              adapter,
            },
            rpc(callOpts),
          );
          if (res.weightVersion) lastVersion = res.weightVersion.number;
          return res.results.map((r) => ({ logprob: r.logprob, isGreedy: r.isGreedy, numTokens: r.numTokens }));
        },
        'GeneratorService.ScoreCompletions',
        callOpts?.signal,
      );
    },

    async generate(items, callOpts) {
      const out: GenerateResult[] = new Array(items.length);
      for (const group of groupConsecutive(items, batchSize)) {
        callOpts?.signal?.throwIfAborted();
        const first = group.items[0]!;
        const res = await client.generate(
          {
            prompts: group.items.map((it) => promptOf(it.context, it.chat)),
            n: 1,
            sampling: requestSampling(first.sampling, first.until),
            minWeightVersion,
            adapter,
          },
          rpc(callOpts),
        );
        if (res.results.length !== group.items.length)
          throw new Error(`GeneratorService.Generate: sent ${group.items.length} prompts, got ${res.results.length} results`);
        const callVersion = res.weightVersion?.number ?? 0n;
        lastVersion = callVersion;
        res.results.forEach((r, j) => {
          const sample = r.samples[0];
          if (!sample) throw new Error(`GeneratorService.Generate: prompt ${j} came back without samples`);
          out[group.start + j] = {
            text: cutAtStop(sample.text, group.items[j]!.until),
            weightVersion: sample.weightVersion || callVersion,
          };
        });
      }
      return out;
    },

    async info() {
      if (!client.getModelInfo) return { name: opts.name ?? 'generator', weightVersion: lastVersion };
      const res = await client.getModelInfo({}, rpc());
      const m = res.model;
      return {
        name: m?.modelName || m?.architecture || opts.name || 'generator',
        weightVersion: m?.weightVersion?.number ?? lastVersion,
      };
    },
  };
}

export function rewardModelScorer(client: RewardClientLike, opts: AdapterOptions = {}): RewardScorer {
  const batchSize = opts.batchSize && opts.batchSize > 0 ? opts.batchSize : 16;
  return {
    async compare(items, callOpts) {
      return mapBatched(
        items,
        batchSize,
        async (batch) => {
          const res = await client.compare(
            {
              pairs: batch.map((it) => ({
                prompt: promptOf(it.prompt, it.chat),
                responseA: { kind: { case: 'text', value: it.a } },
                responseB: { kind: { case: 'text', value: it.b } },
              })),
              minWeightVersion: opts.minWeightVersion ?? 0n,
            },
            { signal: callOpts?.signal, deadlineMs: opts.deadlineMs },
          );
          return res.results.map((r) => ({ probAPreferred: r.probAPreferred, rewardA: r.rewardA, rewardB: r.rewardB }));
        },
        'RewardModelService.Compare',
        callOpts?.signal,
      );
    },
  };
}
