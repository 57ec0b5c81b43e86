// Prompts and responses as token ids, the same way in every role (the contract's Prompt/Completion
// semantics): text gets the tokenizer's special tokens (BOS), chat is rendered with the model's chat
// template, token ids are used verbatim.
import type { Tokenizer } from '@juice/checkpoint';
import type { Completion, Prompt } from '@juice/proto';

export class PromptError extends Error {
  constructor(
    readonly grpcCode: 'FAILED_PRECONDITION' | 'INVALID_ARGUMENT',
    message: string,
  ) {
    super(message);
  }
}

export function promptText(tok: Tokenizer, p: Prompt): string {
  if (p.kind.case === 'text') return p.kind.value;
  if (p.kind.case === 'chat') return tok.applyChatTemplate(p.kind.value.messages, { addGenerationPrompt: true });
  return '';
}

export function encodePrompt(tok: Tokenizer, p: Prompt, field: string): number[] {
  switch (p.kind.case) {
    case 'text':
      return tok.encode(p.kind.value, { addSpecialTokens: tok.addBosToken });
    case 'chat':
      if (!tok.hasChatTemplate) throw new PromptError('FAILED_PRECONDITION', `${field}.chat: the model has no chat template; send text or tokens`);
      return tok.encode(tok.applyChatTemplate(p.kind.value.messages, { addGenerationPrompt: true }));
    case 'tokens':
      return [...p.kind.value.ids];
    default:
      throw new PromptError('INVALID_ARGUMENT', `${field}: must set one of text, chat, tokens`);
  }
}

/**
 * The full sequence of a (prompt, response) pair as a reward model reads it: a chat prompt gets the
 * response as an assistant turn through the template (so it ends the way training data does); text is
 * encoded together; tokens are concatenated. A text response ends in EOS (reward.proto), as juice's
 * training data does (its reward is read there); token responses are used verbatim.
 */
export function encodePromptResponse(tok: Tokenizer, p: Prompt, r: Completion, field: string): number[] {
  if (r.kind.case === 'tokens') return [...encodePrompt(tok, p, `${field}.prompt`), ...r.kind.value.ids];
  const response = r.kind.value ?? '';
  const eos = (ids: number[]) => (tok.eosTokenIds.length && !tok.eosTokenIds.includes(ids[ids.length - 1]!) ? [...ids, tok.eosTokenIds[0]!] : ids);
  if (p.kind.case === 'chat' && tok.hasChatTemplate) return eos(tok.encode(tok.applyChatTemplate([...p.kind.value.messages, { role: 'assistant', content: response }])));
  if (p.kind.case === 'tokens') return eos([...p.kind.value.ids, ...tok.encode(response)]);
  return eos(tok.encode(promptText(tok, p) + response, { addSpecialTokens: p.kind.case === 'text' && tok.addBosToken }));
}
