// Loading refuses what juice does not compute: config.json keys that change the maths (each named with its
// value) and checkpoint tensors the model does not read. Accepted: every key transformers' config classes
// define with a value juice honours, bookkeeping keys, keys transformers ignores too, an exact tied-head
// copy, the buffers older transformers saved (checked against the config), and the one deliberate drop —
// a causal LM's head when a reward model starts from it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDefaultTokenizerFiles, readSafetensors, saveHfDir, writeSafetensors, type StTensorInput } from '@juice/checkpoint';
import { checkConfigKeys, configFromHf, configKeyTable, configToHf, createDefaultModel, DEFAULT_MODEL_CONFIG, initParameters, loadModel, rewardParameterShapes, rewardParamsFromCausalLm, type ModelConfig } from '../src/index.js';

type Json = Record<string, unknown>;

const TINY_LLAMA: Json = {
  architectures: ['LlamaForCausalLM'], model_type: 'llama', attention_bias: false, bos_token_id: 1, eos_token_id: 2, hidden_act: 'silu', hidden_size: 64,
  initializer_range: 0.02, intermediate_size: 128, max_position_embeddings: 2048, num_attention_heads: 4, num_hidden_layers: 2, num_key_value_heads: 2,
  pretraining_tp: 1, rms_norm_eps: 1e-5, rope_scaling: null, rope_theta: 10000.0, tie_word_embeddings: false, torch_dtype: 'bfloat16', transformers_version: '4.35.0',
  use_cache: true, vocab_size: 320,
};
const QWEN25: Json = {
  architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', attention_dropout: 0.0, bos_token_id: 151643, eos_token_id: 151645, hidden_act: 'silu', hidden_size: 64,
  initializer_range: 0.02, intermediate_size: 128, max_position_embeddings: 32768, max_window_layers: 21, num_attention_heads: 4, num_hidden_layers: 2,
  num_key_value_heads: 2, rms_norm_eps: 1e-6, rope_theta: 1000000.0, sliding_window: 32768, tie_word_embeddings: true, torch_dtype: 'bfloat16',
  transformers_version: '4.43.1', use_cache: true, use_sliding_window: false, vocab_size: 320, use_mrope: false,
};
const MISTRAL: Json = {
  architectures: ['MistralForCausalLM'], model_type: 'mistral', hidden_act: 'silu', hidden_size: 64, intermediate_size: 128, num_attention_heads: 4,
  num_hidden_layers: 2, num_key_value_heads: 2, rms_norm_eps: 1e-5, rope_theta: 1e6, sliding_window: null, vocab_size: 320, head_dim: 16,
};
const PYTHIA: Json = {
  architectures: ['GPTNeoXForCausalLM'], model_type: 'gpt_neox', bos_token_id: 0, classifier_dropout: 0.1, eos_token_id: 0, hidden_act: 'gelu', hidden_dropout: 0.0,
  attention_dropout: 0.0, hidden_size: 64, initializer_range: 0.02, intermediate_size: 256, layer_norm_eps: 1e-5, max_position_embeddings: 2048,
  num_attention_heads: 4, num_hidden_layers: 2, rope_scaling: null, rotary_emb_base: 10000, rotary_pct: 0.25, tie_word_embeddings: false,
  torch_dtype: 'float16', transformers_version: '4.24.0', use_cache: true, use_parallel_residual: true, vocab_size: 320,
};
const REWARD: Json = { ...TINY_LLAMA, architectures: ['LlamaForSequenceClassification'], num_labels: 1, id2label: { '0': 'LABEL_0' }, label2id: { LABEL_0: 0 }, pad_token_id: 0, problem_type: 'regression' };

/** The error configFromHf throws, or undefined when it accepts the config. */
function refusal(json: Json): (Error & { grpcCode?: string }) | undefined {
  try {
    configFromHf(json, 'dir/config.json');
    return undefined;
  } catch (e) {
    return e as Error & { grpcCode?: string };
  }
}

test('real-world configs of each supported class load, with bookkeeping keys, generation defaults and keys transformers ignores', () => {
  for (const json of [TINY_LLAMA, QWEN25, MISTRAL, PYTHIA, REWARD, { ...PYTHIA, architectures: ['GPTNeoXForSequenceClassification'], num_labels: 1 }]) {
    const extra = { _name_or_path: 'x', output_attentions: false, return_dict: true, temperature: 0.7, top_p: 0.9, do_sample: true, max_length: 20, unsloth_version: '2024.1', _attn_implementation_autoset: true };
    assert.equal(refusal({ ...json, ...extra }), undefined, String((json.architectures as string[])[0]));
  }
  // Values each restricted key is honoured at.
  assert.equal(refusal({ ...TINY_LLAMA, pretraining_tp: 2, attention_dropout: 0, pruned_heads: {}, is_encoder_decoder: false, quantization_config: null }), undefined, 'pretraining_tp only splits the same matmuls');
  assert.equal(refusal({ ...TINY_LLAMA, rope_parameters: { rope_type: 'default', rope_theta: 10000 } }), undefined, 'transformers 5 rope_parameters saying what rope_theta says');
  assert.equal(refusal({ ...PYTHIA, rope_parameters: { rope_type: 'default', rope_theta: 10000, partial_rotary_factor: 0.25 } }), undefined);
  assert.equal(refusal({ ...TINY_LLAMA, layer_types: ['full_attention', 'full_attention'] }), undefined);
  assert.equal(refusal({ ...MISTRAL, num_attention_heads: 8, num_key_value_heads: undefined, head_dim: 8 }), undefined, 'absent num_key_value_heads is fine when MistralConfig would also use 8');
  // The embedded default model's own config (what juice writes) passes its own check.
  checkConfigKeys(configToHf(DEFAULT_MODEL_CONFIG), 'default');
});

test('each key that would change the maths is refused with INVALID_ARGUMENT, naming the key and its value', () => {
  const cases: [Json, RegExp][] = [
    [{ ...TINY_LLAMA, hidden_act: 'gelu' }, /"hidden_act" = "gelu" is not supported \(the SwiGLU MLP is implemented with "silu" only\)/],
    [{ ...QWEN25, attention_dropout: 0.1 }, /"attention_dropout" = 0\.1 is not supported \(training with dropout is not implemented/],
    [{ ...PYTHIA, hidden_dropout: 0.1 }, /"hidden_dropout" = 0\.1/],
    [{ ...PYTHIA, hidden_act: 'gelu_new' }, /"hidden_act" = "gelu_new" is not supported \(the MLP is implemented with "gelu"/],
    [{ ...TINY_LLAMA, pretraining_tp: 0 }, /"pretraining_tp" = 0/],
    [{ ...TINY_LLAMA, quantization_config: { quant_method: 'gptq', bits: 4 } }, /"quantization_config" = \{"quant_method":"gptq","bits":4\} is not supported \(quantized checkpoints/],
    [{ ...TINY_LLAMA, auto_map: { AutoModelForCausalLM: 'modeling.MyLlama' } }, /"auto_map" = .* its own modeling code/],
    [{ ...TINY_LLAMA, pruned_heads: { '0': [1] } }, /"pruned_heads" = \{"0":\[1\]\}/],
    [{ ...TINY_LLAMA, is_encoder_decoder: true }, /"is_encoder_decoder" = true/],
    [{ ...TINY_LLAMA, add_cross_attention: true }, /"add_cross_attention" = true/],
    [{ ...TINY_LLAMA, model_type: 'qwen2' }, /"model_type" = "qwen2" is not supported \(LlamaForCausalLM is model_type "llama"/],
    [{ ...MISTRAL, num_key_value_heads: undefined }, /"num_key_value_heads" is absent, which is not supported \(transformers' MistralConfig then uses 8 key\/value heads/],
    [{ ...QWEN25, num_key_value_heads: undefined }, /"num_key_value_heads" is absent.*Qwen2Config then uses 32/],
    [{ ...QWEN25, use_mrope: true }, /"use_mrope" = true is not supported \(multimodal RoPE/],
    [{ ...TINY_LLAMA, rope_parameters: { rope_type: 'linear', factor: 2 } }, /"rope_parameters" = .*rope_type "linear": write RoPE scaling as rope_scaling/],
    [{ ...TINY_LLAMA, rope_theta: undefined, rope_parameters: { rope_type: 'default', rope_theta: 1e6 } }, /its rope_theta 1000000 differs from rope_theta 10000/],
    [{ ...PYTHIA, rope_parameters: { rope_theta: 10000, partial_rotary_factor: 0.5 } }, /partial_rotary_factor 0\.5 differs from rotary_pct 0\.25/],
    [{ ...TINY_LLAMA, layer_types: ['full_attention', 'sliding_attention'] }, /"layer_types" = \["full_attention","sliding_attention"\] is not supported \(not a key of this config class/],
    [{ ...TINY_LLAMA, partial_rotary_factor: 0.5 }, /"partial_rotary_factor" = 0\.5 is not supported \(rotary embeddings cover the whole head/],
    [{ ...MISTRAL, attention_bias: true }, /"attention_bias" = true is not supported \(MistralConfig has no attention_bias key/],
    [{ ...QWEN25, mlp_bias: true }, /"mlp_bias" = true is not supported \(Qwen2Config has no mlp_bias key/],
    [{ ...REWARD, num_labels: 2, id2label: undefined }, /"num_labels" = 2 is not supported \(a reward model has one label/],
    [{ ...REWARD, num_labels: undefined, id2label: { '0': 'bad', '1': 'good' } }, /"id2label" = .* this maps 2/],
    [{ ...REWARD, num_labels: undefined, id2label: undefined }, /"num_labels" is absent.*transformers then builds 2 labels/],
    [{ ...REWARD, problem_type: 'single_label_classification' }, /"problem_type" = "single_label_classification" is not supported \(a scalar reward/],
  ];
  for (const [json, pattern] of cases) {
    const e = refusal(json);
    assert.ok(e, `accepted: ${pattern}`);
    assert.equal(e.grpcCode, 'INVALID_ARGUMENT', e.message);
    assert.match(e.message, /^dir\/config\.json: /);
    assert.match(e.message, pattern);
  }
});

test('every offending key is named in one error', () => {
  const e = refusal({ ...TINY_LLAMA, hidden_act: 'relu', attention_dropout: 0.1, quantization_config: {} });
  assert.ok(e);
  for (const key of ['hidden_act', 'attention_dropout', 'quantization_config']) assert.match(e.message, new RegExp(`"${key}" = `));
});

test('every key of the transformers config classes has a rule (LlamaConfig, MistralConfig, Qwen2Config, GPTNeoXConfig of 4.44–4.57)', () => {
  const llama = ['vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'hidden_act', 'max_position_embeddings', 'initializer_range', 'rms_norm_eps', 'use_cache', 'pad_token_id', 'bos_token_id', 'eos_token_id', 'pretraining_tp', 'tie_word_embeddings', 'rope_theta', 'rope_scaling', 'attention_bias', 'attention_dropout', 'mlp_bias', 'head_dim'];
  const mistral = ['vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'head_dim', 'hidden_act', 'max_position_embeddings', 'initializer_range', 'rms_norm_eps', 'use_cache', 'pad_token_id', 'bos_token_id', 'eos_token_id', 'tie_word_embeddings', 'rope_theta', 'sliding_window', 'attention_dropout'];
  const qwen2 = ['vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'hidden_act', 'max_position_embeddings', 'initializer_range', 'rms_norm_eps', 'use_cache', 'tie_word_embeddings', 'rope_theta', 'rope_scaling', 'use_sliding_window', 'sliding_window', 'max_window_layers', 'layer_types', 'attention_dropout'];
  const neox = ['vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size', 'hidden_act', 'rotary_pct', 'rotary_emb_base', 'attention_dropout', 'hidden_dropout', 'classifier_dropout', 'max_position_embeddings', 'initializer_range', 'layer_norm_eps', 'use_cache', 'bos_token_id', 'eos_token_id', 'tie_word_embeddings', 'use_parallel_residual', 'rope_scaling', 'attention_bias'];
  for (const [cls, list] of [['LlamaForCausalLM', llama], ['MistralForCausalLM', mistral], ['Qwen2ForCausalLM', qwen2], ['GPTNeoXForCausalLM', neox], ['GPTNeoXForSequenceClassification', neox]] as const) {
    const table = configKeyTable(cls)!;
    assert.deepEqual(list.filter((k) => !table[k]), [], cls);
  }
  assert.equal(configKeyTable('MambaForCausalLM'), undefined);
});

// ---- checkpoint tensors ----

const base = mkdtempSync(join(tmpdir(), 'juice-keys-'));
const corpus = Array.from({ length: 120 }, (_, i) => `What is ${i}+${i * 3}? ${i}+${i * 3}=${i * 4}`);
const tied = join(base, 'tied');
createDefaultModel(tied, { corpus, seed: 3 });
const untied = join(base, 'untied');
createDefaultModel(untied, { corpus, seed: 4, config: { ...DEFAULT_MODEL_CONFIG, tieWordEmbeddings: false } });
const st = (d: string) => join(d, 'model.safetensors');

/** A copy of `from` whose tensors `edit` changed. */
function variant(from: string, name: string, edit: (t: Map<string, StTensorInput>) => void): string {
  const d = join(base, name);
  cpSync(from, d, { recursive: true });
  const { tensors } = readSafetensors(st(d));
  const m = tensors as unknown as Map<string, StTensorInput>;
  edit(m);
  writeSafetensors(st(d), m);
  return d;
}

const f32 = (n: number, v = 0.5) => ({ dtype: 'F32' as const, shape: [n], data: new Float32Array(n).fill(v) });

function loadError(dir: string, kind: 'lm' | 'reward' = 'lm'): Error & { grpcCode?: string } {
  try {
    loadModel(dir, kind);
  } catch (e) {
    return e as Error & { grpcCode?: string };
  }
  assert.fail(`${dir} loaded`);
}

test('a tensor the model does not read is refused by name; many are listed with a count', () => {
  const one = variant(tied, 'o-bias', (t) => t.set('model.layers.0.self_attn.o_proj.bias', f32(128)));
  const e = loadError(one);
  assert.equal(e.grpcCode, 'INVALID_ARGUMENT');
  assert.match(e.message, /1 tensor\(s\) the model does not read, which juice refuses rather than drop: "model\.layers\.0\.self_attn\.o_proj\.bias"/);
  const many = variant(tied, 'many', (t) => {
    for (let i = 0; i < 9; i++) t.set(`extra.${i}`, f32(2));
  });
  assert.match(loadError(many).message, /9 tensor\(s\) .*"extra\.0", "extra\.1", "extra\.2", "extra\.3", "extra\.4", "extra\.5" and 3 more/);
  const vhead = variant(tied, 'vhead', (t) => t.set('v_head.weight', { dtype: 'F32', shape: [1, 128], data: new Float32Array(128) }));
  assert.match(loadError(vhead).message, /"v_head\.weight".*value head/);
  const lora = variant(tied, 'lora', (t) => t.set('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight', { dtype: 'F32', shape: [4, 128], data: new Float32Array(512) }));
  assert.match(loadError(lora).message, /lora_A.*merge the adapter/);
});

test('tied embeddings: an LM head is accepted only as an exact copy of the embedding', () => {
  const embed = () => readSafetensors(st(tied)).tensors.get('model.embed_tokens.weight')!;
  const copy = variant(tied, 'tied-copy', (t) => t.set('lm_head.weight', embed()));
  const m = loadModel(copy);
  assert.equal(m.params.has('lm_head.weight'), false, 'the head is the embedding');
  const differs = variant(tied, 'tied-differs', (t) => {
    const e = embed();
    const data = Float32Array.from(e.data as Float32Array);
    data[7] = data[7]! + 1e-3;
    t.set('lm_head.weight', { ...e, data });
  });
  const err = loadError(differs);
  assert.match(err.message, /tensor "lm_head\.weight" differs from "model\.embed_tokens\.weight" although config\.json ties them/);
});

test('a causal LM becomes a reward model by dropping exactly its LM head; nothing else is dropped', () => {
  const lm = loadModel(untied);
  assert.ok(lm.params.has('lm_head.weight'));
  const rm = rewardParamsFromCausalLm(lm, 9);
  assert.deepEqual(rm.names, rewardParameterShapes(lm.config).map((s) => s.name));
  assert.deepEqual(lm.params.names.filter((n) => !rm.has(n)), ['lm_head.weight']);
  assert.deepEqual([...rm.view('model.norm.weight')], [...lm.params.view('model.norm.weight')]);
  const score = rm.view('score.weight');
  const std = Math.sqrt(score.reduce((a, v) => a + v * v, 0) / score.length);
  assert.ok(std > 0.01 && std < 0.04, `fresh head std ${std}`);
  assert.deepEqual([...rewardParamsFromCausalLm(lm, 9).view('score.weight')], [...score], 'seeded');
  // Tied: nothing is dropped at all.
  const tm = loadModel(tied);
  assert.deepEqual(tm.params.names.filter((n) => !rewardParamsFromCausalLm(tm, 1).has(n)), []);

  // Written as a sequence classifier, it loads as a reward model; as a causal LM its score head is unused.
  const rmDir = join(base, 'reward');
  saveHfDir(rmDir, {
    config: configToHf(lm.config, { architectures: ['LlamaForSequenceClassification'], num_labels: 1, id2label: { '0': 'LABEL_0' }, label2id: { LABEL_0: 0 } }),
    tensors: rm.entries.map((e) => [e.name, { shape: e.shape, data: rm.view(e.name) }] as [string, { shape: readonly number[]; data: Float32Array }]),
    extraFiles: { 'tokenizer.json': readFileSync(join(untied, 'tokenizer.json'), 'utf8'), 'tokenizer_config.json': readFileSync(join(untied, 'tokenizer_config.json'), 'utf8') },
  });
  const reward = loadModel(rmDir, 'reward');
  assert.deepEqual([...reward.params.view('score.weight')], [...score]);
  assert.throws(() => rewardParamsFromCausalLm(reward, 1), /already a reward model/);
  assert.match(loadError(rmDir, 'lm').message, /missing tensor "lm_head\.weight".*"score\.weight".*sequence-classification head/);
  // A causal LM read as a reward model: no score head, and its LM head is not silently dropped.
  assert.match(loadError(untied, 'reward').message, /missing tensor "score\.weight".*"lm_head\.weight"/);
});

test('GPT-NeoX buffers older transformers saved are accepted when they agree with the config, refused when not', () => {
  const c = configFromHf({ ...PYTHIA, num_hidden_layers: 1, max_position_embeddings: 8 });
  const dir = join(base, 'neox');
  const params = initParameters(c, 2);
  const rot = c.rotaryDims!;
  const buffers = (theta: number, mask: (i: number, j: number) => boolean): [string, StTensorInput][] => [
    ['gpt_neox.layers.0.attention.rotary_emb.inv_freq', { dtype: 'F16', shape: [rot / 2], data: Float32Array.from({ length: rot / 2 }, (_, i) => 1 / theta ** ((2 * i) / rot)) }],
    ['gpt_neox.layers.0.attention.bias', { dtype: 'BOOL', shape: [1, 1, 8, 8], data: Uint8Array.from({ length: 64 }, (_, k) => (mask(Math.floor(k / 8), k % 8) ? 1 : 0)) }],
    ['gpt_neox.layers.0.attention.masked_bias', { dtype: 'F32', shape: [], data: new Float32Array([-1e9]) }],
  ];
  const write = (d: string, extra: [string, StTensorInput][]) => {
    saveHfDir(d, {
      config: configToHf(c),
      tensors: params.entries.map((e) => [e.name, { shape: e.shape, data: params.view(e.name) }] as [string, { shape: readonly number[]; data: Float32Array }]),
      tokenizerFiles: createDefaultTokenizerFiles(corpus, 320),
    });
    const { tensors } = readSafetensors(st(d));
    writeSafetensors(st(d), [...(tensors as unknown as Map<string, StTensorInput>), ...extra]);
    return d;
  };
  const ok = loadModel(write(dir, buffers(10000, (i, j) => j <= i)));
  assert.equal(ok.params.numParams, params.numParams);
  assert.match(loadError(write(join(base, 'neox-theta'), buffers(1e6, (i, j) => j <= i))).message, /"gpt_neox\.layers\.0\.attention\.rotary_emb\.inv_freq" \(a RoPE inv_freq buffer\) differs from the frequencies of base 10000/);
  assert.match(loadError(write(join(base, 'neox-mask'), buffers(10000, () => true))).message, /"gpt_neox\.layers\.0\.attention\.bias" is not the causal mask/);
});

test('the embedded default model passes the check: juice writes nothing it would refuse', () => {
  const json = JSON.parse(readFileSync(join(tied, 'config.json'), 'utf8')) as Json;
  checkConfigKeys(json, 'tied');
  const cfg: ModelConfig = loadModel(tied).config;
  assert.equal(cfg.tieWordEmbeddings, true);
});
