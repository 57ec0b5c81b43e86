// A model's tokenizer as juice uses it: tokenizer.json through @huggingface/tokenizers, special token ids
// from tokenizer_config.json / config.json, and the chat template rendered with @huggingface/jinja.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';
import { CheckpointError } from './errors.js';

export interface ChatMessage {
  role: string;
  content: string;
}

type Json = Record<string, unknown>;

function tokenText(t: unknown): string | undefined {
  if (typeof t === 'string') return t;
  if (t && typeof t === 'object' && typeof (t as { content?: unknown }).content === 'string') return (t as { content: string }).content;
  return undefined;
}

export class Tokenizer {
  readonly vocabSize: number;
  readonly bosTokenId?: number;
  readonly eosTokenIds: number[];
  readonly padTokenId?: number;
  readonly addBosToken: boolean;
  readonly chatTemplate: string;
  readonly kind: string;
  private readonly template?: Template;
  private readonly specialIds: Set<number>;

  constructor(
    private readonly hf: HfTokenizer,
    readonly json: Json,
    readonly config: Json,
    modelConfig: Json = {},
  ) {
    const vocab = hf.get_vocab(true);
    this.vocabSize = Math.max(...vocab.values()) + 1;
    this.kind = String(((json.model ?? {}) as Json).type ?? '');
    const id = (t: unknown) => {
      const text = tokenText(t);
      return text === undefined ? undefined : hf.token_to_id(text);
    };
    this.bosTokenId = id(config.bos_token) ?? (typeof modelConfig.bos_token_id === 'number' ? modelConfig.bos_token_id : undefined);
    const eos = id(config.eos_token);
    const fromModel = Array.isArray(modelConfig.eos_token_id) ? (modelConfig.eos_token_id as number[]) : typeof modelConfig.eos_token_id === 'number' ? [modelConfig.eos_token_id] : [];
    this.eosTokenIds = [...new Set([...(eos !== undefined ? [eos] : []), ...fromModel])];
    this.padTokenId = id(config.pad_token) ?? (typeof modelConfig.pad_token_id === 'number' ? modelConfig.pad_token_id : undefined);
    // HF's default: Llama-style tokenizers add BOS unless told otherwise, when they have one.
    this.addBosToken = config.add_bos_token === undefined ? this.bosTokenId !== undefined : config.add_bos_token === true;
    const tpl = config.chat_template;
    this.chatTemplate = typeof tpl === 'string' ? tpl : Array.isArray(tpl) ? String((tpl.find((t: Json) => t.name === 'default') as Json | undefined)?.template ?? '') : '';
    if (this.chatTemplate) this.template = new Template(this.chatTemplate);
    this.specialIds = new Set(((json.added_tokens ?? []) as { id: number; special?: boolean }[]).filter((t) => t.special).map((t) => t.id));
  }

  /** Loads tokenizer.json (required) and tokenizer_config.json / config.json (optional) from a model directory. */
  static fromDir(dir: string): Tokenizer {
    const read = (name: string, required: boolean): Json => {
      const p = join(dir, name);
      if (!existsSync(p)) {
        if (required) throw new CheckpointError('NOT_FOUND', `${p} is missing: a model directory needs its tokenizer.json`);
        return {};
      }
      try {
        return JSON.parse(readFileSync(p, 'utf8')) as Json;
      } catch (e) {
        throw new CheckpointError('INVALID_ARGUMENT', `${p} is not valid JSON: ${(e as Error).message}`);
      }
    };
    return Tokenizer.fromJson(read('tokenizer.json', true), read('tokenizer_config.json', false), read('config.json', false));
  }

  static fromJson(json: Json, config: Json = {}, modelConfig: Json = {}): Tokenizer {
    return new Tokenizer(new HfTokenizer(json, config), json, config, modelConfig);
  }

  /** Token ids of `text`; addSpecialTokens applies the post-processor (e.g. BOS). */
  encode(text: string, o: { addSpecialTokens?: boolean } = {}): number[] {
    return this.hf.encode(text, { add_special_tokens: o.addSpecialTokens ?? false }).ids;
  }

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

  /** Renders the chat template (jinja's built-in raise_exception reports template errors). */
  applyChatTemplate(messages: readonly ChatMessage[], o: { addGenerationPrompt?: boolean } = {}): string {
    if (!this.template) throw new CheckpointError('FAILED_PRECONDITION', 'this model has no chat template (tokenizer_config.json chat_template); send plain text or tokens');
    return this.template.render({
      messages,
      add_generation_prompt: o.addGenerationPrompt ?? false,
      bos_token: tokenText(this.config.bos_token) ?? '',
      eos_token: tokenText(this.config.eos_token) ?? '',
      pad_token: tokenText(this.config.pad_token) ?? '',
    });
  }

  /** Streaming detokenizer for one sequence: text appears only once its UTF-8 bytes are complete. */
  detokenizer(o: { skipSpecialTokens?: boolean } = {}): (id: number) => string {
    const ids: number[] = [];
    let emitted = '';
    return (id: number) => {
      ids.push(id);
      const text = this.decode(ids, o);
      // A trailing U+FFFD means a multi-byte character is still incomplete: wait for more tokens.
      if (text.endsWith('\uFFFD')) return '';
      const piece = text.slice(emitted.length);
      emitted = text;
      return piece;
    };
  }
}
