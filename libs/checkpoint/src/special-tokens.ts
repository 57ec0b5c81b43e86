// juice's one special-token policy, with Hugging Face semantics. Training rows (SFT, DPO, IRFT, RFT,
// reward models), Generate prompts, ScoreCompletions contexts, the evaluator and the reward model's
// text scoring all encode through the functions below, so a prompt is the same ids on every path.
//
// What `tokenizer(text)` adds (add_special_tokens=True) follows transformers v5 (TokenizersBackend
// __init__ and update_post_processor, shared by every tokenizer_class: v5's model classes such as
// LlamaTokenizer and GPTNeoXTokenizer forward add_bos_token / add_eos_token only when
// tokenizer_config.json sets them):
//  1. tokenizer_config.json sets add_bos_token or add_eos_token (either key): the post-processor is
//     rebuilt as TemplateProcessing "[bos_token] $A [eos_token]", each token only when its flag is true
//     (an absent key is false) and the token is named (a flag whose token is unnamed is turned off).
//  2. otherwise, tokenizer.json has no post_processor (null): the same rebuild with both flags false,
//     i.e. nothing is added (GPT-2 / GPT-NeoX style, even when a bos_token is named).
//  3. otherwise tokenizer.json's post_processor as written (TemplateProcessing, BertProcessing,
//     RobertaProcessing, ByteLevel, or a Sequence of them), with the ids it lists.
// (transformers 4.x differed: PreTrainedTokenizerFast ignored the flags and only the Llama, CodeLlama,
// Gemma, Cohere and GPT-NeoX fast classes rebuilt the post-processor, with their own defaults.)
//
// How each input kind uses it:
//  - text prompt: the post-processor's leading tokens (prefix, e.g. BOS) + the text's ids. Its trailing
//    tokens (suffix: EOS under add_eos_token, BERT's [SEP]) end a sequence, and a response follows a
//    prompt: in tokenizer(prompt + response), which is how TRL's SFT and DPO trainers tokenize, the
//    suffix lands after the response, never between the two. So a prompt carries the prefix only.
//  - chat prompt: the chat template rendered with add_generation_prompt=True, then encoded with
//    add_special_tokens=False, as apply_chat_template does (the template writes its own BOS).
//  - completion (a training response, a reward-model response): the text's ids + EOS, appended once
//    (not when the text already ends in an EOS token, as TRL appends eos_token only when missing).
//    The suffix is not added: EOS is what ends a completion.
//  - token ids: verbatim, nothing added.
import { CheckpointError } from './errors.js';

type Json = Record<string, unknown>;

/** What `tokenizer(text)` puts around a single sequence, and which rule decided it. */
export interface SpecialTokenPolicy {
  /** Ids before the text (e.g. [BOS], [CLS]). */
  prefixIds: number[];
  /** Ids after the text (e.g. [EOS] under add_eos_token, [SEP]); never put between a prompt and its response. */
  suffixIds: number[];
  /** The rule that applied, for reports: which file and key decided. */
  rule: string;
}

/** The surface the encoders need; @juice/checkpoint's Tokenizer provides it. */
export interface PolicyTokenizer {
  /** The text's ids with nothing added. */
  encode(text: string, o: { addSpecialTokens?: boolean }): number[];
  applyChatTemplate(messages: readonly { role: string; content: string }[], o: { addGenerationPrompt?: boolean }): string;
  readonly specialTokens: SpecialTokenPolicy;
  readonly eosTokenIds: readonly number[];
}

export type PromptKind = 'text' | 'chat';

function fail(problem: string): never {
  throw new CheckpointError('INVALID_ARGUMENT', `tokenizer.json post_processor: ${problem}`);
}

/** Prefix and suffix ids of one post-processor, for a single sequence ($A), as the Rust tokenizers library applies it. */
function affixesOf(pp: unknown, where: string): { prefix: number[]; suffix: number[] } {
  if (pp === null || pp === undefined) return { prefix: [], suffix: [] };
  const p = pp as Json;
  switch (p.type) {
    case 'ByteLevel':
      return { prefix: [], suffix: [] };
    case 'BertProcessing':
    case 'RobertaProcessing': {
      // [CLS] $A [SEP]: each is a [token, id] pair.
      const id = (key: 'cls' | 'sep') => {
        const pair = p[key];
        if (!Array.isArray(pair) || typeof pair[1] !== 'number') fail(`${where}.${key} must be [token, id]`);
        return pair[1] as number;
      };
      return { prefix: [id('cls')], suffix: [id('sep')] };
    }
    case 'TemplateProcessing': {
      const single = p.single;
      if (!Array.isArray(single)) fail(`${where}.single must be a list of pieces`);
      const special = (p.special_tokens ?? {}) as Record<string, { ids?: unknown }>;
      const prefix: number[] = [];
      const suffix: number[] = [];
      let seenA = false;
      for (const piece of single as Json[]) {
        if (piece.Sequence) {
          if ((piece.Sequence as Json).id !== 'A' || seenA) fail(`${where}.single must hold sequence $A exactly once`);
          seenA = true;
        } else if (piece.SpecialToken) {
          const name = String((piece.SpecialToken as Json).id);
          const ids = special[name]?.ids;
          // The Rust library refuses a template naming a token special_tokens does not list.
          if (!Array.isArray(ids) || !ids.every((x) => typeof x === 'number')) fail(`${where}.special_tokens has no ids for "${name}"`);
          (seenA ? suffix : prefix).push(...(ids as number[]));
        } else fail(`${where}.single has a piece that is neither SpecialToken nor Sequence`);
      }
      if (!seenA) fail(`${where}.single must hold sequence $A`);
      return { prefix, suffix };
    }
    case 'Sequence': {
      // Each processor wraps what the previous ones produced.
      const out = { prefix: [] as number[], suffix: [] as number[] };
      const list = p.processors;
      if (!Array.isArray(list)) fail(`${where}.processors must be a list`);
      (list as unknown[]).forEach((inner, i) => {
        const a = affixesOf(inner, `${where}.processors[${i}]`);
        out.prefix = [...a.prefix, ...out.prefix];
        out.suffix = [...out.suffix, ...a.suffix];
      });
      return out;
    }
    default:
      return fail(`${where}.type ${JSON.stringify(p.type)} is not supported (TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Sequence are)`);
  }
}

/**
 * The policy for one tokenizer (rules 1-3 above). `bosText`/`eosText` are the named bos_token and
 * eos_token (tokenizer_config.json, then special_tokens_map.json); `tokenToId` looks them up.
 */
export function resolveSpecialTokens(o: { postProcessor: unknown; config: Json; bosText?: string; eosText?: string; tokenToId: (token: string) => number | undefined }): SpecialTokenPolicy {
  const c = o.config;
  const flagged = 'add_bos_token' in c || 'add_eos_token' in c;
  if (flagged || o.postProcessor === null || o.postProcessor === undefined) {
    const token = (flag: 'add_bos_token' | 'add_eos_token', text: string | undefined): number[] => {
      if (c[flag] !== true || text === undefined) return [];
      const id = o.tokenToId(text);
      // transformers would add the token to the vocabulary; the model's embedding has no row for it.
      if (id === undefined) throw new CheckpointError('INVALID_ARGUMENT', `tokenizer_config.json ${flag} is true but its token "${text}" is not in the vocabulary`);
      return [id];
    };
    return {
      prefixIds: token('add_bos_token', o.bosText),
      suffixIds: token('add_eos_token', o.eosText),
      rule: flagged ? 'tokenizer_config.json add_bos_token/add_eos_token' : 'tokenizer.json has no post_processor',
    };
  }
  const { prefix, suffix } = affixesOf(o.postProcessor, 'post_processor');
  return { prefixIds: prefix, suffixIds: suffix, rule: 'tokenizer.json post_processor' };
}

/** HF `tokenizer(text)` with add_special_tokens=True: prefix + text + suffix. */
export function withSpecialTokens(policy: SpecialTokenPolicy, textIds: readonly number[]): number[] {
  return [...policy.prefixIds, ...textIds, ...policy.suffixIds];
}

/**
 * Ids of an already rendered prompt string: text gets the prefix (no suffix: a response follows);
 * a chat template's output is encoded without special tokens (the template wrote them).
 */
export function encodeRenderedPrompt(tok: PolicyTokenizer, rendered: string, kind: PromptKind): number[] {
  const ids = tok.encode(rendered, { addSpecialTokens: false });
  return kind === 'text' ? [...tok.specialTokens.prefixIds, ...ids] : ids;
}

export function encodeTextPrompt(tok: PolicyTokenizer, text: string): number[] {
  return encodeRenderedPrompt(tok, text, 'text');
}

/** The conversation rendered with add_generation_prompt=True, so a response follows as at inference. */
export function encodeChatPrompt(tok: PolicyTokenizer, messages: readonly { role: string; content: string }[]): number[] {
  return encodeRenderedPrompt(tok, tok.applyChatTemplate(messages, { addGenerationPrompt: true }), 'chat');
}

/** A completion's ids ending in EOS exactly once. */
export function encodeCompletion(tok: PolicyTokenizer, text: string): number[] {
  return endWithEos(tok, tok.encode(text, { addSpecialTokens: false }));
}

/** `ids` with the first EOS id appended unless they already end in one of the EOS ids. */
export function endWithEos(tok: Pick<PolicyTokenizer, 'eosTokenIds'>, ids: readonly number[]): number[] {
  const eos = tok.eosTokenIds[0];
  if (eos === undefined) throw new CheckpointError('FAILED_PRECONDITION', 'the tokenizer defines no EOS token; completions must end with one so the model learns (and is scored on) where to stop');
  return ids.length > 0 && tok.eosTokenIds.includes(ids[ids.length - 1]!) ? [...ids] : [...ids, eos];
}
