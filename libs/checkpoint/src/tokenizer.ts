// A model's tokenizer as juice uses it: tokenizer.json through @huggingface/tokenizers; special token ids
// from tokenizer_config.json, special_tokens_map.json, generation_config.json and config.json (in that
// order of authority, as transformers resolves them); the chat template rendered with @huggingface/jinja.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';
import { CheckpointError } from './errors.js';
import { IncrementalDetokenizer } from './incremental-detokenizer.js';
import { encodeChatPrompt, encodeCompletion, encodeRenderedPrompt, encodeTextPrompt, resolveSpecialTokens, withSpecialTokens, type PromptKind, type SpecialTokenPolicy } from './special-tokens.js';
import { describeJsonError } from '@juice/proto';

export interface ChatMessage {
  role: string;
  content: string;
}

type Json = Record<string, unknown>;

/** The files a tokenizer is made of, parsed. Only `tokenizer` (tokenizer.json) is required. */
export interface TokenizerSources {
  tokenizer: Json;
  tokenizerConfig?: Json;
  specialTokensMap?: Json;
  generationConfig?: Json;
  /** The model's config.json (bos/eos/pad ids of last resort). */
  modelConfig?: Json;
  /** chat_template.jinja, which newer transformers writes instead of tokenizer_config.json's chat_template. */
  chatTemplate?: string;
}

export type StreamingDetokenizer = ((id: number) => string) & { flush(): string };

/** Special tokens appear as "text" or as an AddedToken object {content: "text", …}. */
function tokenText(t: unknown): string | undefined {
  if (typeof t === 'string') return t;
  if (t && typeof t === 'object' && typeof (t as { content?: unknown }).content === 'string') return (t as { content: string }).content;
  return undefined;
}

function ids(v: unknown): number[] {
  if (typeof v === 'number') return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === 'number');
  return [];
}

function templateOf(config: Json, file?: string): string {
  if (file) return file;
  const tpl = config.chat_template;
  if (typeof tpl === 'string') return tpl;
  // Several named templates: transformers uses "default" for plain chat.
  if (Array.isArray(tpl)) return String((tpl as Json[]).find((t) => t.name === 'default')?.template ?? '');
  return '';
}

export class Tokenizer {
  readonly vocabSize: number;
  readonly bosTokenId?: number;
  readonly eosTokenIds: number[];
  readonly padTokenId?: number;
  /** What tokenizer(text) adds around a text, Hugging Face's rule resolved (special-tokens.ts). */
  readonly specialTokens: SpecialTokenPolicy;
  /** Whether text prompts start with the BOS token (what is done, from specialTokens). */
  readonly addBosToken: boolean;
  /** Whether tokenizer(text) ends with an EOS token (add_eos_token); prompts never carry it, completions end in EOS anyway. */
  readonly addEosToken: boolean;
  readonly chatTemplate: string;
  /** tokenizer.json's model.type: BPE, Unigram, WordPiece. */
  readonly kind: string;
  readonly json: Json;
  readonly config: Json;
  private readonly hf: HfTokenizer;
  private readonly template?: Template;
  private readonly specialIds: Set<number>;
  private readonly bosText?: string;
  private readonly eosText?: string;
  private readonly padText?: string;

  constructor(s: TokenizerSources) {
    this.json = s.tokenizer;
    this.config = s.tokenizerConfig ?? {};
    const special = s.specialTokensMap ?? {};
    const gen = s.generationConfig ?? {};
    const model = s.modelConfig ?? {};
    try {
      this.hf = new HfTokenizer(this.json, this.config);
    } catch (e) {
      throw new CheckpointError('INVALID_ARGUMENT', `tokenizer.json cannot be loaded: ${(e as Error).message}`);
    }
    const vocab = this.hf.get_vocab(true);
    // A loop, not Math.max(...values): spreading a 150k-entry vocabulary (Qwen 2.5, Llama 3) overflows the stack.
    let maxId = -1;
    for (const id of vocab.values()) if (id > maxId) maxId = id;
    this.vocabSize = maxId + 1;
    this.kind = String(((this.json.model ?? {}) as Json).type ?? '');
    this.bosText = tokenText(this.config.bos_token) ?? tokenText(special.bos_token);
    this.eosText = tokenText(this.config.eos_token) ?? tokenText(special.eos_token);
    this.padText = tokenText(this.config.pad_token) ?? tokenText(special.pad_token);
    const id = (text: string | undefined) => (text === undefined ? undefined : this.hf.token_to_id(text));
    this.bosTokenId = id(this.bosText) ?? ids(gen.bos_token_id)[0] ?? ids(model.bos_token_id)[0];
    const eos = id(this.eosText);
    // Chat models often stop on several ids (e.g. <|eot_id|> and <|end_of_text|>): generation_config lists them.
    this.eosTokenIds = [...new Set([...(eos !== undefined ? [eos] : []), ...ids(gen.eos_token_id), ...ids(model.eos_token_id)])];
    this.padTokenId = id(this.padText) ?? ids(gen.pad_token_id)[0] ?? ids(model.pad_token_id)[0];
    this.specialTokens = resolveSpecialTokens({ postProcessor: this.json.post_processor, config: this.config, bosText: this.bosText, eosText: this.eosText, tokenToId: (t) => this.hf.token_to_id(t) });
    this.addBosToken = this.bosTokenId !== undefined && this.specialTokens.prefixIds[0] === this.bosTokenId;
    this.addEosToken = this.specialTokens.suffixIds.some((t) => this.eosTokenIds.includes(t));
    this.chatTemplate = templateOf(this.config, s.chatTemplate);
    if (this.chatTemplate) {
      try {
        this.template = new Template(this.chatTemplate);
      } catch (e) {
        throw new CheckpointError('INVALID_ARGUMENT', `chat_template does not parse: ${(e as Error).message}`);
      }
    }
    this.specialIds = new Set([...this.hf.get_added_tokens_decoder()].filter(([, t]) => t.special).map(([i]) => i));
  }

  /** Loads tokenizer.json (required) and the optional tokenizer_config.json, special_tokens_map.json, generation_config.json, config.json, chat_template.jinja. */
  static fromDir(dir: string): Tokenizer {
    const read = (name: string, required: boolean): Json | undefined => {
      const p = join(dir, name);
      if (!existsSync(p)) {
        if (required) throw new CheckpointError('NOT_FOUND', `${p} is missing: a model directory needs its tokenizer.json`);
        return undefined;
      }
      const text = readFileSync(p, 'utf8');
      try {
        return JSON.parse(text) as Json;
      } catch {
        throw new CheckpointError('INVALID_ARGUMENT', `${p} is ${describeJsonError(text)}`);
      }
    };
    const tplPath = join(dir, 'chat_template.jinja');
    try {
      return new Tokenizer({
        tokenizer: read('tokenizer.json', true)!,
        tokenizerConfig: read('tokenizer_config.json', false),
        specialTokensMap: read('special_tokens_map.json', false),
        generationConfig: read('generation_config.json', false),
        modelConfig: read('config.json', false),
        chatTemplate: existsSync(tplPath) ? readFileSync(tplPath, 'utf8') : undefined,
      });
    } catch (e) {
      if (e instanceof CheckpointError && !e.message.startsWith(dir)) throw new CheckpointError(e.grpcCode, `${dir}: ${e.message}`);
      throw e;
    }
  }

  /** From file contents by file name, e.g. what createDefaultTokenizerFiles returns. */
  static fromFiles(files: Readonly<Record<string, string>>): Tokenizer {
    const parse = (name: string) => (files[name] === undefined ? undefined : (JSON.parse(files[name]!) as Json));
    const tokenizer = parse('tokenizer.json');
    if (!tokenizer) throw new CheckpointError('NOT_FOUND', 'tokenizer.json is missing');
    return new Tokenizer({
      tokenizer,
      tokenizerConfig: parse('tokenizer_config.json'),
      specialTokensMap: parse('special_tokens_map.json'),
      generationConfig: parse('generation_config.json'),
      modelConfig: parse('config.json'),
      chatTemplate: files['chat_template.jinja'],
    });
  }

  static fromJson(json: Json, config: Json = {}, modelConfig: Json = {}): Tokenizer {
    return new Tokenizer({ tokenizer: json, tokenizerConfig: config, modelConfig });
  }

  /**
   * Token ids of `text`. addSpecialTokens (default false) adds what Hugging Face's tokenizer(text) adds
   * (specialTokens: prefix + text + suffix). Prompts and completions use encodeTextPrompt /
   * encodeChatPrompt / encodeCompletion instead, which say how a prompt that a response follows is treated.
   */
  encode(text: string, o: { addSpecialTokens?: boolean } = {}): number[] {
    // The post-processor is applied here, from the ids tokenizer.json lists (the JS library would look
    // its special tokens up by text), and after the add_bos_token/add_eos_token rule.
    const ids = this.hf.encode(text, { add_special_tokens: false }).ids;
    return o.addSpecialTokens ? withSpecialTokens(this.specialTokens, ids) : ids;
  }

  /** A plain-text prompt that a response follows: BOS (the post-processor's prefix) + text, no suffix. */
  encodeTextPrompt(text: string): number[] {
    return encodeTextPrompt(this, text);
  }

  /** A conversation through the chat template with the generation prompt, without special tokens added again. */
  encodeChatPrompt(messages: readonly ChatMessage[]): number[] {
    return encodeChatPrompt(this, messages);
  }

  /** An already rendered prompt string (text, or a chat template's output), e.g. an lm-eval context. */
  encodeRenderedPrompt(rendered: string, kind: PromptKind): number[] {
    return encodeRenderedPrompt(this, rendered, kind);
  }

  /** A completion (training or reward response): its ids ending in EOS once. */
  encodeCompletion(text: string): number[] {
    return encodeCompletion(this, text);
  }

  /** Text of `ids`; skipSpecialTokens defaults to true (role markers and EOS are not text). */
  decode(ids: readonly number[], o: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return '';
    return this.hf.decode([...ids], { skip_special_tokens: o.skipSpecialTokens ?? true, clean_up_tokenization_spaces: false });
  }

  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  idToToken(id: number): string | undefined {
    return this.hf.id_to_token(id);
  }

  tokenToId(token: string): number | undefined {
    return this.hf.token_to_id(token);
  }

  get hasChatTemplate(): boolean {
    return this.template !== undefined;
  }

  /**
   * Renders the chat template with bos_token, eos_token, pad_token and add_generation_prompt in context;
   * raise_exception is jinja's built-in (it cannot be redefined), and what a template raises (e.g. roles
   * out of order) becomes INVALID_ARGUMENT with the template's own message.
   */
  applyChatTemplate(messages: readonly ChatMessage[], o: { addGenerationPrompt?: boolean } = {}): string {
    if (!this.template) throw new CheckpointError('FAILED_PRECONDITION', 'this model has no chat template (tokenizer_config.json chat_template); send plain text or tokens');
    try {
      return this.template.render({
        messages: messages.map((m) => ({ ...m })),
        add_generation_prompt: o.addGenerationPrompt ?? false,
        bos_token: this.bosText ?? '',
        eos_token: this.eosText ?? '',
        pad_token: this.padText ?? '',
      });
    } catch (e) {
      throw new CheckpointError('INVALID_ARGUMENT', `chat template: ${(e as Error).message}`);
    }
  }

  /** Streaming detokenizer for one sequence: call with each new id; text appears once its UTF-8 bytes are complete; flush() at the end. */
  detokenizer(o: { skipSpecialTokens?: boolean } = {}): StreamingDetokenizer {
    const d = new IncrementalDetokenizer((ids) => this.decode(ids, o));
    return Object.assign((id: number) => d.push(id), { flush: () => d.flush() });
  }
}
