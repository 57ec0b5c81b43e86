// What every task kind gets and returns, and the batched model calls with progress they share.
import type { MessageInitShape } from '@bufbuild/protobuf';
import { TaskKind, type EvalSampleSchema } from '@juice/proto';
import { chunks } from '../batch.js';
import type { EvalModel, GenerateItem, GenerateResult, LoglikelihoodItem, LoglikelihoodResult, RewardScorer } from '../model.js';
import type { RowDoc } from '../task-data.js';
import type { TaskView } from './view.js';

export type EvalSampleInit = MessageInitShape<typeof EvalSampleSchema>;

export interface KindContext {
  view: TaskView;
  /** The documents to evaluate (after split, max_rows and limit). */
  docs: RowDoc[];
  model: EvalModel;
  rewardScorer?: RewardScorer | undefined;
  batchSize: number;
  logSamples: number;
  seed: bigint;
  signal?: AbortSignal | undefined;
  /** Documents fully evaluated so far. */
  progress(done: number): void;
}

export interface KindOutput {
  metrics: Record<string, number>;
  stderr: Record<string, number>;
  samples: EvalSampleInit[];
  /** Weight versions seen from generate results (empty: ask the model). */
  weightVersions: bigint[];
}

/** Every metric of a kind, in report order (TaskKind comments in evaluator.proto). */
export const KIND_METRICS: Readonly<Record<TaskKind, readonly string[]>> = {
  [TaskKind.UNSPECIFIED]: [],
  [TaskKind.PERPLEXITY]: ['nll', 'perplexity', 'bits_per_byte', 'word_perplexity'],
  [TaskKind.MULTIPLE_CHOICE]: ['acc', 'acc_norm'],
  [TaskKind.GENERATE_MATCH]: ['exact_match'],
  [TaskKind.REWARD_WIN_RATE]: ['win_rate', 'mean_reward', 'mean_reference_reward', 'mean_prob_preferred'],
};

/**
 * Scores requests in batchSize chunks; `owners[i]` is the document index of request i
 * (non-decreasing), so progress counts documents whose every request is done.
 */
export async function scoreWithProgress(ctx: KindContext, reqs: LoglikelihoodItem[], owners: number[]): Promise<LoglikelihoodResult[]> {
  const out: LoglikelihoodResult[] = [];
  for (const batch of chunks(reqs, ctx.batchSize)) {
    ctx.signal?.throwIfAborted();
    const res = await ctx.model.loglikelihood(batch, { signal: ctx.signal });
    if (res.length !== batch.length) throw new Error(`model.loglikelihood: sent ${batch.length} items, got ${res.length} results`);
    out.push(...res);
    const last = out.length - 1;
    ctx.progress(last + 1 === reqs.length || owners[last + 1] !== owners[last] ? owners[last]! + 1 : owners[last]!);
  }
  return out;
}

/** One model.generate call with a result-count check. */
export async function generateBatch(ctx: KindContext, items: GenerateItem[]): Promise<GenerateResult[]> {
  ctx.signal?.throwIfAborted();
  const res = await ctx.model.generate(items, { signal: ctx.signal });
  if (res.length !== items.length) throw new Error(`model.generate: sent ${items.length} items, got ${res.length} results`);
  return res;
}

export function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** Whitespace-separated words (lm-eval counts words for word_perplexity by splitting on \s+). */
export function wordCount(s: string): number {
  return s.split(/\s+/).filter((w) => w.length > 0).length;
}

/** Index of the first maximum (numpy argmax semantics, so ties go to the earlier choice). */
export function argmax(xs: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i]! > xs[best]!) best = i;
  return best;
}
