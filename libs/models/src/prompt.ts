// Prompts and responses as token ids, the same way in every role (the contract's Prompt/Completion
// semantics) and the same way training rows are built: text and chat go through the tokenizer's one
// special-token policy (@juice/checkpoint special-tokens.ts: text gets the post-processor's leading
// tokens such as BOS, chat is the rendered template without special tokens added again, completions
// end in EOS once); token ids are used verbatim.
import { endWithEos, type Tokenizer } from '@juice/checkpoint';
import type { Completion, Prompt } from '@juice/proto';

export class PromptError extends Error {
  constructor(
    readonly grpcCode: 'FAILED_PRECONDITION' | 'INVALID_ARGUMENT',
    message: string,
  ) {
    super(message);
  }
}

function requireTemplate(tok: Tokenizer, field: string): void {
  // common.proto Prompt.chat: FAILED_PRECONDITION when the model has no chat template (the request is
  // well formed; this model cannot serve it).
  if (!tok.hasChatTemplate) throw new PromptError('FAILED_PRECONDITION', `${field}.chat: the model has no chat template (TokenizerInfo.has_chat_template is false); send text or tokens`);
}

/** The prompt as text the model reads: chat rendered with the generation prompt; '' for token prompts. */
export function promptText(tok: Tokenizer, p: Prompt, field = 'prompt'): string {
  if (p.kind.case === 'text') return p.kind.value;
  if (p.kind.case === 'chat') {
    requireTemplate(tok, field);
    return tok.applyChatTemplate(p.kind.value.messages, { addGenerationPrompt: true });
  }
  return '';
}

export function encodePrompt(tok: Tokenizer, p: Prompt, field: string): number[] {
  switch (p.kind.case) {
    case 'text':
      return tok.encodeTextPrompt(p.kind.value);
    case 'chat':
      requireTemplate(tok, field);
      return tok.encodeChatPrompt(p.kind.value.messages);
    case 'tokens':
      return [...p.kind.value.ids];
    default:
      throw new PromptError('INVALID_ARGUMENT', `${field}: must set one of text, chat, tokens`);
  }
}

/**
 * The full sequence of a (prompt, response) pair as a reward model reads it (reward.proto): a text
 * response is appended to the rendered prompt and the two are encoded together, with the prompt's
 * policy (text: the leading special tokens; chat: the template's own), then EOS once, as training rows
 * end; after a token prompt a text response is encoded alone. Token responses are used verbatim.
 */
export function encodePromptResponse(tok: Tokenizer, p: Prompt, r: Completion, field: string): number[] {
  if (r.kind.case === 'tokens') return [...encodePrompt(tok, p, `${field}.prompt`), ...r.kind.value.ids];
  const response = r.kind.value ?? '';
  switch (p.kind.case) {
    case 'tokens':
      return [...p.kind.value.ids, ...tok.encodeCompletion(response)];
    case 'text':
    case 'chat': {
      return endWithEos(tok, tok.encodeRenderedPrompt(promptText(tok, p, `${field}.prompt`) + response, p.kind.case));
    }
    default:
      throw new PromptError('INVALID_ARGUMENT', `${field}.prompt: must set one of text, chat, tokens`);
  }
}
