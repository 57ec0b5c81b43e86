// The tokenizer surface this lib needs, declared structurally: @juice/checkpoint's Tokenizer
// satisfies it without @juice/data importing it (libs stay independent), and tests use a toy
// character-level tokenizer.
import type { ChatMessage } from './examples.js';

export interface TokenizerLike {
  /** Token ids of `text`; addSpecialTokens adds the tokenizer's post-processor tokens (e.g. BOS). */
  encode(text: string, o: { addSpecialTokens?: boolean }): number[];
  /** The model's chat template rendered to text. */
  applyChatTemplate(messages: readonly ChatMessage[], o: { addGenerationPrompt?: boolean }): string;
  readonly bosTokenId?: number;
  /** The first one ends training responses; any of them ends generation. */
  readonly eosTokenIds: readonly number[];
  readonly padTokenId?: number;
  /** Whether sequences start with BOS (tokenizer_config.json add_bos_token). */
  readonly addBosToken: boolean;
}
