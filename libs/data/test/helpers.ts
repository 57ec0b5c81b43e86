// Shared test helpers: temp files and a toy character-level tokenizer.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChatMessage, TokenizerLike } from '../src/index.js';

export function tempDir(prefix = 'juice-data-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function writeJsonl(dir: string, name: string, rows: readonly unknown[]): string {
  const p = join(dir, name);
  writeFileSync(p, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return p;
}

export const PAD = 0;
export const BOS = 1;
export const EOS = 2;

/**
 * One token per character (its char code, always >= 32 here, so never a special id). Its policy is
 * the Llama-style one: text prompts start with BOS, chat prompts are the template only, completions
 * end in EOS once (the real one, with every Hugging Face rule, is @juice/checkpoint special-tokens.ts).
 */
export const charTokenizer: TokenizerLike = {
  encode: (text: string) => [...text].map((c) => c.codePointAt(0)!),
  applyChatTemplate: (messages: readonly ChatMessage[], o: { addGenerationPrompt?: boolean }) => messages.map((m) => `<${m.role[0]}>${m.content}`).join('') + (o.addGenerationPrompt ? '<a>' : ''),
  encodeTextPrompt(text: string) {
    return [BOS, ...this.encode(text, {})];
  },
  encodeChatPrompt(messages: readonly ChatMessage[]) {
    return this.encode(this.applyChatTemplate(messages, { addGenerationPrompt: true }), {});
  },
  encodeCompletion(text: string) {
    const eos = this.eosTokenIds[0];
    if (eos === undefined) throw new Error('the tokenizer defines no EOS token');
    return [...this.encode(text, {}), eos];
  },
  bosTokenId: BOS,
  eosTokenIds: [EOS],
  padTokenId: PAD,
};

export const ids = (text: string) => [...text].map((c) => c.codePointAt(0)!);
