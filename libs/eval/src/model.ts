// The two interfaces every task runs against. They are string-in/string-out on purpose, so a
// live generator over gRPC and a checkpoint loaded in-process fit the same tasks without the tasks
// knowing about tokens. Both go through grpc-adapters.ts: the evaluator serves a loaded checkpoint as
// an in-process Generator client, so the two targets share one request mapping.
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { SamplingParamsSchema } from '@juice/proto';

export type SamplingParamsInit = MessageInitShape<typeof SamplingParamsSchema>;

/** One chat turn, as ChatMessage. */
export interface ChatTurn {
  role: string;
  content: string;
}

/** Per-call options a model may honour (cancellation of in-flight work). */
export interface ModelCallOptions {
  signal?: AbortSignal;
}

export interface LoglikelihoodItem {
  /** Plain-text context ('' = score from the BOS token, lm-eval's rolling log-likelihood). */
  context: string;
  continuation: string;
  /**
   * When set, the context as chat turns (apply_chat_template, chat-schema rows): a model with a
   * chat template should render these (add_generation_prompt) instead of `context`, which is
   * then only a plain-text fallback.
   */
  chat?: ChatTurn[];
}

export interface LoglikelihoodResult {
  /** Summed natural-log probability of the continuation tokens. */
  logprob: number;
  /** Every continuation token is the argmax given its context (lm-eval is_greedy). */
  isGreedy: boolean;
  numTokens: number;
}

export interface GenerateItem {
  context: string;
  sampling: SamplingParamsInit;
  /** Stop strings; the returned text is cut before the first of them. */
  until: string[];
  /** As LoglikelihoodItem.chat. */
  chat?: ChatTurn[];
}

export interface GenerateResult {
  text: string;
  /** Weight version that produced the text (0 for a checkpoint loaded once). */
  weightVersion: bigint;
}

export interface EvalModel {
  loglikelihood(items: LoglikelihoodItem[], opts?: ModelCallOptions): Promise<LoglikelihoodResult[]>;
  generate(items: GenerateItem[], opts?: ModelCallOptions): Promise<GenerateResult[]>;
  info(): Promise<{ name: string; weightVersion: bigint }>;
}

export interface CompareItem {
  prompt: string;
  /** Response A (the policy's, in REWARD_WIN_RATE). */
  a: string;
  /** Response B (the reference). */
  b: string;
  /** As LoglikelihoodItem.chat: the prompt as chat turns, preferred when set. */
  chat?: ChatTurn[];
}

export interface CompareResult {
  /** σ(rewardA − rewardB). */
  probAPreferred: number;
  rewardA: number;
  rewardB: number;
}

export interface RewardScorer {
  compare(items: CompareItem[], opts?: ModelCallOptions): Promise<CompareResult[]>;
}
