// Generation prompts as token ids (the contract's Prompt semantics, via @juice/models), each checked
// to leave room for at least one new token in the context.
import { encodePrompt } from '@juice/models';
import type { Prompt } from '@juice/proto';
import { InputError } from './errors.js';
import type { ServedLm } from './served-lm.js';

export function promptTokenIds(host: Pick<ServedLm, 'model' | 'contextLength'>, prompts: readonly Prompt[], field = 'prompts'): number[][] {
  return prompts.map((p, i) => {
    const ids = encodePrompt(host.model.tokenizer, p, `${field}[${i}]`);
    if (ids.length >= host.contextLength) throw new InputError(`${field}[${i}]`, `${ids.length} tokens leave no room in the context length ${host.contextLength}`);
    return ids;
  });
}
