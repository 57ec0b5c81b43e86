// The tokenizer surface this lib needs, declared structurally: @juice/checkpoint's Tokenizer
// satisfies it without @juice/data importing it (libs stay independent), and tests use a toy
// character-level tokenizer. The special-token policy (what a prompt and a completion get: BOS from
// the tokenizer's post-processor, the chat template, EOS once) lives in the tokenizer
// (@juice/checkpoint special-tokens.ts), so training rows and serving encode prompts alike.
import type { ChatMessage } from './examples.js';

export interface TokenizerLike {
  /** Token ids of `text`; addSpecialTokens adds what Hugging Face's tokenizer(text) adds. */
  encode(text: string, o: { addSpecialTokens?: boolean }): number[];
  /** The model's chat template rendered to text. */
  applyChatTemplate(messages: readonly ChatMessage[], o: { addGenerationPrompt?: boolean }): string;
  /** A plain-text prompt that a response follows (the post-processor's leading tokens, e.g. BOS, then the text). */
  encodeTextPrompt(text: string): number[];
  /** A conversation through the chat template with the generation prompt, no special tokens added again. */
  encodeChatPrompt(messages: readonly ChatMessage[]): number[];
  /** A response's ids ending in EOS exactly once; throws when the tokenizer has no EOS. */
  encodeCompletion(text: string): number[];
  readonly bosTokenId?: number;
  /** The first one ends training responses; any of them ends generation. */
  readonly eosTokenIds: readonly number[];
  readonly padTokenId?: number;
}
