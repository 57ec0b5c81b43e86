// Packing raw text for next-token pretraining (ALGORITHM_PRETRAIN), the rule of Hugging Face's
// run_clm.py `group_texts` with documents separated by EOS: each document is encoded as
// tokenizer(text) encodes it (BOS when the tokenizer's post-processor adds one, so a pretrained base
// sees documents start the way SFT prompts and generation do), followed by EOS unless it already ends
// in one; the documents are concatenated in order and cut into consecutive windows of maxLength tokens.
// Unlike run_clm, the last, shorter window is kept (a small corpus would otherwise lose its tail).
// Every window is a TokenizedExample with an empty prompt, so the next-token loss counts every
// token after the window's first one.
import type { TokenizedExample } from './tokenize-examples.js';
import type { TokenizerLike } from './tokenizer-like.js';

export function packDocuments(tok: TokenizerLike, documents: readonly string[], maxLength: number): TokenizedExample[] {
  if (!(Number.isInteger(maxLength) && maxLength >= 2)) throw new RangeError(`packing needs windows of at least 2 tokens, got max_length ${maxLength}`);
  const eos = tok.eosTokenIds[0];
  if (eos === undefined) throw new Error('packing documents needs a tokenizer with an EOS token (the document separator)');
  const stream: number[] = [];
  for (const text of documents) {
    const ids = tok.encode(text, { addSpecialTokens: true });
    for (const id of ids) stream.push(id);
    if (ids[ids.length - 1] !== eos) stream.push(eos);
  }
  const windows: TokenizedExample[] = [];
  for (let at = 0; at < stream.length; at += maxLength) {
    const window = stream.slice(at, at + maxLength);
    // A 1-token tail predicts nothing: it would be a row without a target.
    if (window.length >= 2) windows.push({ promptIds: [], responseIds: window, truncated: false });
  }
  return windows;
}
