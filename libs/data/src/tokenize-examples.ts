// Canonical examples -> token ids for training: { promptIds, responseIds } with the response ending
// in EOS, so the model learns where to stop. Prompt and response are tokenized separately (TRL does
// the same) so the boundary is exact and the loss mask needs no offset search.
//
// Truncation keeps what matters to the loss: the prompt loses its oldest tokens (left) down to
// maxPromptLength, keeping the turns nearest the response; then the response loses its tail (right)
// so prompt + response fit maxLength. A truncated response has no EOS; `truncated` says so, so
// callers can count or drop such rows.
import type { Demonstration, PreferencePair, Prompt } from './examples.js';
import type { TokenizerLike } from './tokenizer-like.js';

export interface TokenizedExample {
  promptIds: number[];
  responseIds: number[];
  /** Whether either part was cut. */
  truncated: boolean;
}

export interface TokenizedPair {
  promptIds: number[];
  chosenIds: number[];
  rejectedIds: number[];
  truncated: boolean;
}

export interface TruncationOptions {
  /** Maximum prompt + response tokens. */
  maxLength: number;
  /** Maximum prompt tokens; default maxLength - 1 (prompts are cut only when nothing else fits). */
  maxPromptLength?: number;
}

function checkLimits(o: TruncationOptions): number {
  if (!Number.isInteger(o.maxLength) || o.maxLength < 2) throw new RangeError(`maxLength must be an integer >= 2, got ${o.maxLength}`);
  const maxPrompt = o.maxPromptLength ?? o.maxLength - 1;
  if (!Number.isInteger(maxPrompt) || maxPrompt < 1 || maxPrompt >= o.maxLength) {
    throw new RangeError(`maxPromptLength must be an integer in 1..maxLength-1 (${o.maxLength - 1}) so at least one response token fits, got ${maxPrompt}`);
  }
  return maxPrompt;
}

/**
 * TrainingHyperparameters.max_length / max_prompt_length (0 = default) resolved for a model with
 * `contextLength` positions: max_length 0 = min(512, contextLength), max_prompt_length 0 =
 * max_length / 4 (the research setting, 128 of 512). Resolved here so every algorithm truncates alike.
 */
export function truncationFromHyperparameters(h: { maxLength?: number; maxPromptLength?: number }, contextLength: number): Required<TruncationOptions> {
  const maxLength = h.maxLength || Math.min(512, contextLength);
  if (maxLength > contextLength) throw new RangeError(`max_length ${maxLength} exceeds the model's context length ${contextLength}; use at most ${contextLength} (or 0 for the default)`);
  const maxPromptLength = h.maxPromptLength || Math.max(1, Math.floor(maxLength / 4));
  const o = { maxLength, maxPromptLength };
  checkLimits(o);
  return o;
}

/**
 * Prompt token ids by the tokenizer's special-token policy, the same ids Generate, ScoreCompletions
 * and the evaluator use: text gets what the tokenizer's post-processor puts before a text (e.g. BOS),
 * conversations go through the chat template with the generation prompt (the assistant header) so
 * the response follows exactly as at inference.
 */
export function encodePrompt(tok: TokenizerLike, prompt: Prompt): number[] {
  return prompt.kind === 'text' ? tok.encodeTextPrompt(prompt.text) : tok.encodeChatPrompt(prompt.messages);
}

/** Response token ids ending in EOS (once), so the model learns to stop. */
export function encodeResponse(tok: TokenizerLike, text: string): number[] {
  return tok.encodeCompletion(text);
}

/** Applies the truncation rules to already tokenized parts (e.g. generated samples). */
export function truncateExample(promptIds: readonly number[], responseIds: readonly number[], o: TruncationOptions): TokenizedExample {
  const maxPrompt = checkLimits(o);
  const p = promptIds.length > maxPrompt ? promptIds.slice(promptIds.length - maxPrompt) : promptIds.slice();
  const room = o.maxLength - p.length;
  const r = responseIds.length > room ? responseIds.slice(0, room) : responseIds.slice();
  return { promptIds: p, responseIds: r, truncated: p.length < promptIds.length || r.length < responseIds.length };
}

export function tokenizeDemonstration(tok: TokenizerLike, d: Pick<Demonstration, 'prompt' | 'response'>, o: TruncationOptions): TokenizedExample {
  return truncateExample(encodePrompt(tok, d.prompt), encodeResponse(tok, d.response), o);
}

/** Both responses share one truncated prompt; each is cut to fit maxLength on its own. */
export function tokenizePreferencePair(tok: TokenizerLike, p: Pick<PreferencePair, 'prompt' | 'chosen' | 'rejected'>, o: TruncationOptions): TokenizedPair {
  const promptIds = encodePrompt(tok, p.prompt);
  const c = truncateExample(promptIds, encodeResponse(tok, p.chosen), o);
  const r = truncateExample(promptIds, encodeResponse(tok, p.rejected), o);
  return { promptIds: c.promptIds, chosenIds: c.responseIds, rejectedIds: r.responseIds, truncated: c.truncated || r.truncated };
}

/** The pair as two examples (chosen, rejected), e.g. for pairBatch. */
export function pairToExamples(p: TokenizedPair): [TokenizedExample, TokenizedExample] {
  return [
    { promptIds: p.promptIds, responseIds: p.chosenIds, truncated: p.truncated },
    { promptIds: p.promptIds, responseIds: p.rejectedIds, truncated: p.truncated },
  ];
}
