// Which config.json keys juice honours, per Hugging Face class, and the refusal of every key that would
// change the model's maths in a way juice does not compute. A checkpoint that loads must compute what it
// computes in transformers; one that cannot is refused with INVALID_ARGUMENT naming each key.
//
// The tables follow transformers 4.44–4.57 (LlamaConfig, MistralConfig, Qwen2Config, GPTNeoXConfig, their
// modeling_*.py, and PretrainedConfig's generic keys), plus the spellings transformers 5 writes
// (rope_parameters, layer_types, dtype). Every key those config classes define is listed with a rule:
//   implemented  juice reads it and computes with it (the architecture modules in architectures/, rope.ts);
//   bookkeeping  it does not change the forward maths (ids, dtype on disk, output switches, generation
//                defaults, initialisation scale);
//   restricted   honoured at the values `check` accepts only; any other value is refused.
// A key no config class of the architecture defines is ignored by transformers as well (it only becomes an
// attribute nobody reads), so juice ignores it too; the generic keys that would change the maths
// (quantization_config, auto_map, pruned_heads, cross attention) are restricted here.
import { ModelLoadError } from './errors.js';
import { HF_CLASS_HEADS, MODEL_TYPES } from './architectures/registry.js';

type Json = Record<string, unknown>;

export type KeyKind = 'implemented' | 'bookkeeping' | 'restricted';
export type Head = 'lm' | 'sequence-classification';
export type ArchitectureName = 'llama' | 'mistral' | 'qwen2' | 'gpt_neox';

export interface KeyRule {
  kind: KeyKind;
  /** Why juice refuses this value (undefined: accepted). Called for keys present in config.json. */
  check?: (value: unknown, json: Json) => string | undefined;
  /** Why juice refuses the key's absence (transformers' default differs from juice's). */
  absent?: (json: Json) => string | undefined;
  /** What juice accepts, in words (the README table). */
  accepts?: string;
}

/** The Hugging Face classes juice loads: architecture and head (the architecture registry names them). */
export const HF_CLASSES: Readonly<Record<string, { architecture: ArchitectureName; head: Head }>> = Object.fromEntries(
  HF_CLASS_HEADS.map((c) => [c.hfClass, { architecture: c.architecture, head: c.head }]),
);

const implemented: KeyRule = { kind: 'implemented' };
const bookkeeping: KeyRule = { kind: 'bookkeeping' };
const restricted = (accepts: string, ok: (v: unknown, json: Json) => boolean): KeyRule => ({ kind: 'restricted', accepts, check: (v, json) => (ok(v, json) ? undefined : accepts) });
const isZero = (v: unknown) => v === null || v === 0;
const isFalse = (v: unknown) => v === null || v === false;

const keys = (names: string[], rule: KeyRule): Record<string, KeyRule> => Object.fromEntries(names.map((n) => [n, rule]));

/** PretrainedConfig's keys, shared by every class. */
const GENERIC: Record<string, KeyRule> = {
  ...keys(
    [
      // identity, provenance and on-disk dtype (juice computes in float32 whatever the files hold)
      '_name_or_path', 'name_or_path', 'transformers_version', '_commit_hash', 'torch_dtype', 'dtype', 'use_bfloat16', 'architectures',
      // output switches and caching: what a forward returns, not what it computes
      'use_cache', 'output_attentions', 'output_hidden_states', 'return_dict', 'torchscript', 'tf_legacy_loss',
      '_attn_implementation', 'attn_implementation', '_attn_implementation_autoset', '_attn_implementation_internal', 'gradient_checkpointing', 'xla_device',
      // special token ids (juice takes them from the tokenizer files; the forward never reads them)
      'bos_token_id', 'eos_token_id', 'sep_token_id', 'decoder_start_token_id', 'tokenizer_class', 'prefix',
      // the scale of a fresh initialisation (juice's fresh heads use 0.02, the value these configs carry)
      'initializer_range',
      // task labels of other heads, and fields only encoder-decoder or chunked-FFN models read
      'finetuning_task', 'task_specific_params', 'chunk_size_feed_forward', 'tie_encoder_decoder', 'cross_attention_hidden_size', 'is_decoder',
      // generation defaults: juice samples with each request's parameters
      'max_length', 'min_length', 'do_sample', 'early_stopping', 'num_beams', 'num_beam_groups', 'diversity_penalty', 'temperature', 'top_k', 'top_p',
      'typical_p', 'repetition_penalty', 'length_penalty', 'no_repeat_ngram_size', 'encoder_no_repeat_ngram_size', 'bad_words_ids', 'num_return_sequences',
      'output_scores', 'return_dict_in_generate', 'forced_bos_token_id', 'forced_eos_token_id', 'remove_invalid_values', 'exponential_decay_length_penalty',
      'suppress_tokens', 'begin_suppress_tokens',
      // a causal LM has no classification head: these only label one
      'num_labels', 'id2label', 'label2id', 'problem_type', 'pad_token_id',
    ],
    bookkeeping,
  ),
  pruned_heads: restricted('pruned attention heads are not implemented: must be empty', (v) => v === null || (typeof v === 'object' && Object.keys(v as object).length === 0)),
  is_encoder_decoder: restricted('juice runs decoder-only models: must be false', isFalse),
  add_cross_attention: restricted('cross attention is not implemented: must be false', isFalse),
  quantization_config: restricted('quantized checkpoints are not supported: dequantize to float16/bfloat16/float32 first', (v) => v === null),
  auto_map: restricted('the checkpoint names its own modeling code, which juice does not run: remove auto_map if the model is the stock architecture', (v) => v === null),
};

/** Keys that every Llama-family class (Llama, Mistral, Qwen2) reads the same way. */
const LLAMA_FAMILY: Record<string, KeyRule> = {
  ...keys(['vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'head_dim', 'rms_norm_eps', 'rope_theta', 'max_position_embeddings', 'tie_word_embeddings'], implemented),
  // RoPE scaling (linear, dynamic, llama3, yarn): the RoPE code validates its own sub-keys.
  rope_scaling: implemented,
  hidden_act: restricted('the SwiGLU MLP is implemented with "silu" only', (v) => v === 'silu'),
  // Dropout is off at inference, but juice trains without it: a non-zero rate would train a different model.
  attention_dropout: restricted('training with dropout is not implemented: must be 0', isZero),
  rope_parameters: { kind: 'restricted', accepts: 'transformers 5 form: only {rope_type: "default", rope_theta equal to rope_theta}', check: (v, json) => ropeParameters(v, json, false) },
  // LlamaConfig and MistralConfig do not define it (their attention is the same in every layer).
  layer_types: restricted('not a key of this config class, whose layers all attend fully: every entry must be "full_attention"', (v) => v === null || (Array.isArray(v) && v.every((t) => t === 'full_attention'))),
  // Llama, Mistral and Qwen2 rotate whole heads.
  partial_rotary_factor: restricted('rotary embeddings cover the whole head: must be 1', (v) => v === null || v === 1),
};

const LLAMA: Record<string, KeyRule> = {
  ...LLAMA_FAMILY,
  attention_bias: implemented,
  mlp_bias: implemented,
  // transformers (≤4.47) splits the same matmuls into pretraining_tp slices and sums them: the same maths up
  // to float summation order; 4.48+ ignores the key.
  pretraining_tp: restricted('a positive integer (the maths does not depend on it)', (v) => v === null || (Number.isInteger(v) && (v as number) >= 1)),
};

/** Keys Llama defines that Mistral/Qwen2 do not: transformers ignores them there and builds no such biases. */
const NO_EXTRA_BIASES = (cls: string): Record<string, KeyRule> => ({
  attention_bias: restricted(`${cls} has no attention_bias key (transformers ignores it and builds ${cls === 'Qwen2Config' ? 'q/k/v biases only' : 'no biases'}): must be false`, isFalse),
  mlp_bias: restricted(`${cls} has no mlp_bias key (transformers builds no MLP biases): must be false`, isFalse),
});

const kvHeadsDefault = (cls: string, n: number) => (json: Json) =>
  json.num_attention_heads === n ? undefined : `transformers' ${cls} then uses ${n} key/value heads, juice num_attention_heads (${JSON.stringify(json.num_attention_heads)}): set it explicitly`;

const MISTRAL: Record<string, KeyRule> = {
  ...LLAMA_FAMILY,
  ...NO_EXTRA_BIASES('MistralConfig'),
  num_key_value_heads: { kind: 'implemented', absent: kvHeadsDefault('MistralConfig', 8) },
  sliding_window: implemented,
};

const QWEN2: Record<string, KeyRule> = {
  ...LLAMA_FAMILY,
  ...NO_EXTRA_BIASES('Qwen2Config'),
  num_key_value_heads: { kind: 'implemented', absent: kvHeadsDefault('Qwen2Config', 32) },
  use_sliding_window: implemented,
  sliding_window: implemented,
  max_window_layers: implemented,
  // transformers ≥4.53 (and 5): which layers slide, overriding max_window_layers.
  layer_types: implemented,
  // Qwen2-VL's multimodal RoPE layout; Qwen2ForCausalLM ignores it, so a model that needs it would be wrong.
  use_mrope: restricted('multimodal RoPE is not implemented: must be false', isFalse),
};

const GPT_NEOX: Record<string, KeyRule> = {
  ...keys(['vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'rotary_pct', 'rotary_emb_base', 'use_parallel_residual', 'layer_norm_eps', 'max_position_embeddings', 'tie_word_embeddings'], implemented),
  rope_scaling: implemented,
  // ACT2FN["gelu"] is the exact (erf) GELU juice computes; gelu_new / gelu_fast are tanh approximations.
  hidden_act: restricted('the MLP is implemented with "gelu" (exact, erf) only', (v) => v === 'gelu'),
  attention_dropout: restricted('training with dropout is not implemented: must be 0', isZero),
  hidden_dropout: restricted('training with dropout is not implemented: must be 0', isZero),
  // On query_key_value and dense (default true).
  attention_bias: implemented,
  // GPTNeoXConfig replaces it with rotary_pct, which is what juice reads.
  partial_rotary_factor: bookkeeping,
  // Only GPTNeoXForTokenClassification reads it; the sequence classifier has no dropout.
  classifier_dropout: bookkeeping,
  rope_parameters: { kind: 'restricted', accepts: 'transformers 5 form: only {rope_type: "default", rope_theta = rotary_emb_base, partial_rotary_factor = rotary_pct}', check: (v, json) => ropeParameters(v, json, true) },
};

const BY_ARCHITECTURE: Record<ArchitectureName, Record<string, KeyRule>> = { llama: LLAMA, mistral: MISTRAL, qwen2: QWEN2, gpt_neox: GPT_NEOX };

/** A sequence classifier is juice's reward model: one scalar, read at the last real token, no bias. */
const SEQUENCE_CLASSIFICATION: Record<string, KeyRule> = {
  num_labels: { kind: 'restricted', accepts: 'one label (a scalar reward)', check: (v, json) => labelCount(json) === 1 && (v === null || v === 1) ? undefined : 'a reward model has one label: must be 1 (and id2label, when present, one entry)', absent: (json) => (json.id2label === undefined || json.id2label === null ? 'transformers then builds 2 labels; a reward model has one: set num_labels 1' : undefined) },
  id2label: { kind: 'restricted', accepts: 'one entry', check: (v, json) => (v === null || labelCount(json) === 1 ? undefined : `a reward model has one label, this maps ${labelCount(json)}`) },
  label2id: bookkeeping,
  problem_type: restricted('a scalar reward: "regression" or unset', (v) => v === null || v === 'regression'),
  // transformers reads the score at the last non-pad token; juice at the last token the attention mask keeps.
  pad_token_id: implemented,
};

function labelCount(json: Json): number {
  const m = json.id2label;
  if (m && typeof m === 'object') return Object.keys(m).length;
  return typeof json.num_labels === 'number' ? json.num_labels : 2;
}

/** The keys juice knows for a Hugging Face class, each with its rule (undefined for a class juice does not load). */
export function configKeyTable(hfClass: string): Readonly<Record<string, KeyRule>> | undefined {
  if (!Object.hasOwn(HF_CLASSES, hfClass)) return undefined;
  const c = HF_CLASSES[hfClass]!;
  return { ...GENERIC, ...BY_ARCHITECTURE[c.architecture], ...(c.head === 'sequence-classification' ? SEQUENCE_CLASSIFICATION : {}) };
}

/** The class config.json selects, as configFromHf reads it (architectures[0], else model_type's causal LM). */
export function hfClassOf(json: Json): string | undefined {
  const named = Array.isArray(json.architectures) ? String(json.architectures[0]) : '';
  if (Object.hasOwn(HF_CLASSES, named)) return named;
  const t = MODEL_TYPES.find((m) => m === json.model_type);
  return t ? Object.keys(HF_CLASSES).find((k) => HF_CLASSES[k]!.architecture === t && HF_CLASSES[k]!.head === 'lm') : undefined;
}

function show(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/**
 * Refuses a config.json that sets any key to a value juice does not compute (INVALID_ARGUMENT, every
 * offending key named with its value and what juice accepts). A class juice does not load is left to
 * configFromHf, which names the supported ones.
 */
export function checkConfigKeys(json: Json, source = 'config.json'): void {
  const hfClass = hfClassOf(json);
  if (!hfClass) return;
  const table = configKeyTable(hfClass)!;
  const { architecture } = HF_CLASSES[hfClass]!;
  const problems: string[] = [];
  // transformers picks the config class (and so the maths) by model_type; juice by architectures[0].
  if (json.model_type !== undefined && json.model_type !== architecture) {
    problems.push(`"model_type" = ${show(json.model_type)} is not supported (${hfClass} is model_type "${architecture}"; transformers would build a different model)`);
  }
  for (const [key, value] of Object.entries(json)) {
    if (key === 'model_type') continue;
    const why = table[key]?.check?.(value, json);
    if (why) problems.push(`"${key}" = ${show(value)} is not supported (${why})`);
  }
  for (const [key, rule] of Object.entries(table)) {
    const why = json[key] === undefined ? rule.absent?.(json) : undefined;
    if (why) problems.push(`"${key}" is absent, which is not supported (${why})`);
  }
  if (problems.length) throw new ModelLoadError('INVALID_ARGUMENT', `${source}: ${problems.join('; ')}`);
}

/**
 * transformers 5 keeps RoPE settings in rope_parameters. juice reads rope_theta / rotary_emb_base and
 * rotary_pct, so the object is accepted only when it says the same as those keys (or their defaults).
 */
function ropeParameters(v: unknown, json: Json, neox: boolean): string | undefined {
  if (v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) return 'must be an object';
  const p = v as Json;
  const theta = neox ? (json.rotary_emb_base ?? 10000) : (json.rope_theta ?? 10000);
  const thetaKey = neox ? 'rotary_emb_base' : 'rope_theta';
  for (const [k, x] of Object.entries(p)) {
    if (k === 'rope_type' || k === 'type') {
      if (x !== 'default') return `rope_type ${show(x)}: write RoPE scaling as rope_scaling (juice reads that key)`;
    } else if (k === 'rope_theta') {
      if (x !== theta) return `its rope_theta ${show(x)} differs from ${thetaKey} ${show(theta)}, which juice reads: set ${thetaKey}`;
    } else if (k === 'partial_rotary_factor' && neox) {
      if (x !== (json.rotary_pct ?? 0.25)) return `its partial_rotary_factor ${show(x)} differs from rotary_pct ${show(json.rotary_pct ?? 0.25)}, which juice reads: set rotary_pct`;
    } else return `sub-key "${k}" is not implemented`;
  }
  return undefined;
}
