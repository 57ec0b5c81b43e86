// The embedded default model's tokenizer files, made by juice from its own corpus: a byte-level BPE
// tokenizer.json, a tokenizer_config.json with a chat template, and special_tokens_map.json.
import { trainByteLevelBpe } from './bpe-trainer.js';

export const DEFAULT_SPECIAL_TOKENS = ['<|pad|>', '<|bos|>', '<|eos|>', '<|system|>', '<|user|>', '<|assistant|>'] as const;

/**
 * Chat format: <|bos|><|user|>question<|assistant|>answer<|eos|>… Role markers are special tokens, so
 * they never collide with text; the EOS after each assistant turn is what generation stops on.
 */
export const DEFAULT_CHAT_TEMPLATE =
  "{{ bos_token }}{% for message in messages %}{{ '<|' + message['role'] + '|>' }}{{ message['content'] }}" +
  "{% if message['role'] == 'assistant' %}{{ eos_token }}{% endif %}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}";

export type DefaultTokenizerFiles = Record<'tokenizer.json' | 'tokenizer_config.json' | 'special_tokens_map.json', string>;

export function createDefaultTokenizerFiles(corpus: Iterable<string>, vocabSize = 512): DefaultTokenizerFiles {
  const { vocab, merges } = trainByteLevelBpe(corpus, { vocabSize, specialTokens: [...DEFAULT_SPECIAL_TOKENS], splitDigits: true });
  const id = (t: string) => vocab.get(t)!;
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: DEFAULT_SPECIAL_TOKENS.map((t) => ({ id: id(t), content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<|bos|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<|bos|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<|bos|>': { id: '<|bos|>', ids: [id('<|bos|>')], tokens: ['<|bos|>'] } },
    },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries(vocab),
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
  const config = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: '<|bos|>',
    eos_token: '<|eos|>',
    pad_token: '<|pad|>',
    add_bos_token: true,
    add_eos_token: false,
    clean_up_tokenization_spaces: false,
    model_max_length: 128,
    chat_template: DEFAULT_CHAT_TEMPLATE,
  };
  const special = { bos_token: '<|bos|>', eos_token: '<|eos|>', pad_token: '<|pad|>', additional_special_tokens: ['<|system|>', '<|user|>', '<|assistant|>'] };
  return {
    'tokenizer.json': JSON.stringify(tokenizer),
    'tokenizer_config.json': JSON.stringify(config, null, 2) + '\n',
    'special_tokens_map.json': JSON.stringify(special, null, 2) + '\n',
  };
}
