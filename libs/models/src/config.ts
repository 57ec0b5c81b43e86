// Model configuration from (and back to) Hugging Face config.json. One record covers the Llama family
// (Llama, Mistral, Qwen2: RMSNorm, RoPE, SwiGLU, grouped-query attention; Qwen2 adds q/k/v biases) and
// GPT-NeoX (Pythia: LayerNorm with bias, fused QKV, partial rotary, parallel residual, GELU).
import { ModelLoadError } from './errors.js';
import { checkConfigKeys } from './config-keys.js';
import { checkRopeScaling, parseRopeScaling, ropeScalingToHf, type RopeScaling } from './rope.js';

export type Architecture = 'llama' | 'mistral' | 'qwen2' | 'gpt_neox';

export interface ModelConfig {
  architecture: Architecture;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  maxPositions: number;
  /** config.json rope_scaling (linear, dynamic, llama3, yarn; see rope.ts); absent for plain RoPE. */
  ropeScaling?: RopeScaling;
  tieWordEmbeddings: boolean;
  /** Biases on the q/k/v projections (Qwen2; Llama attention_bias). GPT-NeoX: attention_bias, on query_key_value and dense. */
  qkvBias: boolean;
  /** Bias on o_proj (Llama attention_bias: transformers puts it on q, k, v and o). */
  oProjBias?: boolean;
  /** Biases on gate/up/down_proj (Llama mlp_bias). */
  mlpBias?: boolean;
  /**
   * Sliding-window attention per layer (Mistral sliding_window; Qwen2 use_sliding_window, max_window_layers,
   * layer_types): a window w lets query i see key j iff i − w < j ≤ i; null (or no array) is full causal attention.
   */
  slidingWindows?: (number | null)[];
  bosTokenId?: number;
  eosTokenId?: number | number[];
  padTokenId?: number;
  /** GPT-NeoX: head dimensions that get rotary embeddings (rotary_pct · head_dim). */
  rotaryDims?: number;
  /** GPT-NeoX: x + attn(ln1 x) + mlp(ln2 x) instead of sequential residuals. */
  parallelResidual?: boolean;
  /** GPT-NeoX: LayerNorm epsilon. */
  layerNormEps?: number;
}

const ARCHITECTURES: Record<string, Architecture> = {
  LlamaForCausalLM: 'llama',
  MistralForCausalLM: 'mistral',
  Qwen2ForCausalLM: 'qwen2',
  LlamaForSequenceClassification: 'llama',
  MistralForSequenceClassification: 'mistral',
  Qwen2ForSequenceClassification: 'qwen2',
  GPTNeoXForCausalLM: 'gpt_neox',
  GPTNeoXForSequenceClassification: 'gpt_neox',
};

type Json = Record<string, unknown>;

function need(json: Json, key: string, source: string): number {
  const v = json[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ModelLoadError('INVALID_ARGUMENT', `${source}: "${key}" must be a number, got ${JSON.stringify(v)}`);
  return v;
}

/** Reads a config.json object; `source` names the file in errors. */
export function configFromHf(json: Json, source = 'config.json'): ModelConfig {
  // Every key that would change the maths is implemented or refused here, naming it (config-keys.ts).
  checkConfigKeys(json, source);
  const archName = Array.isArray(json.architectures) ? String(json.architectures[0]) : '';
  const architecture = ARCHITECTURES[archName] ?? (['llama', 'mistral', 'qwen2', 'gpt_neox'].includes(String(json.model_type)) ? (json.model_type as Architecture) : undefined);
  if (!architecture) {
    throw new ModelLoadError('INVALID_ARGUMENT', `${source}: architecture ${JSON.stringify(archName || json.model_type)} is not supported (supported: ${Object.keys(ARCHITECTURES).join(', ')})`);
  }
  if (architecture === 'gpt_neox') return neoxConfig(json, source);
  const hiddenSize = need(json, 'hidden_size', source);
  const numHeads = need(json, 'num_attention_heads', source);
  const numKvHeads = typeof json.num_key_value_heads === 'number' ? json.num_key_value_heads : numHeads;
  if (numHeads % numKvHeads !== 0) throw new ModelLoadError('INVALID_ARGUMENT', `${source}: num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`);
  // head_dim may differ from hidden_size / heads (q/o are then [H·head_dim, D]); null means the quotient (Mistral).
  const headDim = typeof json.head_dim === 'number' ? json.head_dim : hiddenSize / numHeads;
  if (!Number.isInteger(headDim) || headDim <= 0 || headDim % 2 !== 0) {
    throw new ModelLoadError('INVALID_ARGUMENT', `${source}: head_dim ${headDim} (head_dim, or hidden_size / num_attention_heads) must be a positive even integer for rotary embeddings`);
  }
  const numLayers = need(json, 'num_hidden_layers', source);
  return {
    architecture,
    vocabSize: need(json, 'vocab_size', source),
    hiddenSize,
    intermediateSize: need(json, 'intermediate_size', source),
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: typeof json.rms_norm_eps === 'number' ? json.rms_norm_eps : 1e-6,
    ropeTheta: typeof json.rope_theta === 'number' ? json.rope_theta : 10000,
    maxPositions: typeof json.max_position_embeddings === 'number' ? json.max_position_embeddings : 2048,
    ...ropeScalingField(json, architecture, headDim, source),
    tieWordEmbeddings: json.tie_word_embeddings === true,
    ...projectionBiases(json, architecture, source),
    ...slidingWindows(json, architecture, numLayers, source),
    bosTokenId: typeof json.bos_token_id === 'number' ? json.bos_token_id : undefined,
    eosTokenId: typeof json.eos_token_id === 'number' || Array.isArray(json.eos_token_id) ? (json.eos_token_id as number | number[]) : undefined,
    padTokenId: typeof json.pad_token_id === 'number' ? json.pad_token_id : undefined,
  };
}

/**
 * Which projections carry biases, as transformers builds them: Llama puts attention_bias on q/k/v/o and
 * mlp_bias on gate/up/down; Qwen2 always has q/k/v biases and no others; Mistral none. A bias key set on an
 * architecture whose transformers class has no such bias is refused: its tensors would be dropped unread.
 */
function projectionBiases(json: Json, architecture: Architecture, source: string): Pick<ModelConfig, 'qkvBias' | 'oProjBias' | 'mlpBias'> {
  for (const key of ['attention_bias', 'mlp_bias']) {
    const v = json[key];
    if (v !== undefined && v !== null && typeof v !== 'boolean') throw new ModelLoadError('INVALID_ARGUMENT', `${source}: "${key}" must be true or false, got ${JSON.stringify(v)}`);
    if (v === true && architecture !== 'llama') {
      throw new ModelLoadError('INVALID_ARGUMENT', `${source}: "${key}": true is not supported for ${architecture} (transformers' ${HF_CLASS[architecture]} has no such bias; only llama honours it)`);
    }
  }
  if (architecture === 'qwen2') return { qkvBias: true };
  const attention = architecture === 'llama' && json.attention_bias === true;
  return { qkvBias: attention, ...(attention ? { oProjBias: true } : {}), ...(architecture === 'llama' && json.mlp_bias === true ? { mlpBias: true } : {}) };
}

function windowSize(v: unknown, key: string, source: string): number | null {
  if (v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ModelLoadError('INVALID_ARGUMENT', `${source}: "${key}" must be a positive integer or null, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * Per-layer sliding windows as transformers derives them. Mistral: every layer slides by sliding_window,
 * 4096 when the key is absent (MistralConfig's default), none when null. Qwen2: the window is sliding_window
 * (default 4096) only if use_sliding_window, and layer i slides iff layer_types[i] is "sliding_attention" —
 * by default iff i ≥ max_window_layers (default 28). Llama has no sliding window.
 */
function slidingWindows(json: Json, architecture: Architecture, numLayers: number, source: string): Pick<ModelConfig, 'slidingWindows'> {
  if (architecture === 'mistral') {
    const w = 'sliding_window' in json ? windowSize(json.sliding_window, 'sliding_window', source) : 4096;
    // transformers' MistralForCausalLM ignores layer_types (every layer slides, or none): it may only agree with that.
    const types = json.layer_types;
    if (types !== undefined && types !== null && !(Array.isArray(types) && types.every((t) => t === (w === null ? 'full_attention' : 'sliding_attention')))) {
      throw new ModelLoadError('INVALID_ARGUMENT', `${source}: "layer_types" ${JSON.stringify(types)} is not supported for mistral (transformers' MistralForCausalLM ignores it and ${w === null ? 'slides no layer' : `slides every layer by sliding_window ${w}`})`);
    }
    return w === null ? {} : { slidingWindows: new Array<number>(numLayers).fill(w) };
  }
  if (architecture !== 'qwen2') return {};
  const use = json.use_sliding_window ?? false;
  if (typeof use !== 'boolean') throw new ModelLoadError('INVALID_ARGUMENT', `${source}: "use_sliding_window" must be true or false, got ${JSON.stringify(use)}`);
  const w = use ? ('sliding_window' in json ? windowSize(json.sliding_window, 'sliding_window', source) : 4096) : null;
  let sliding: boolean[];
  if (json.layer_types !== undefined && json.layer_types !== null) {
    const types = json.layer_types;
    if (!Array.isArray(types) || types.length !== numLayers || types.some((t) => t !== 'full_attention' && t !== 'sliding_attention')) {
      throw new ModelLoadError('INVALID_ARGUMENT', `${source}: "layer_types" must list "full_attention" or "sliding_attention" for each of the ${numLayers} layers, got ${JSON.stringify(types)}`);
    }
    sliding = types.map((t) => t === 'sliding_attention');
  } else {
    const first = json.max_window_layers ?? 28;
    if (typeof first !== 'number' || !Number.isInteger(first) || first < 0) throw new ModelLoadError('INVALID_ARGUMENT', `${source}: "max_window_layers" must be a non-negative integer, got ${JSON.stringify(first)}`);
    sliding = Array.from({ length: numLayers }, (_, i) => w !== null && i >= first);
  }
  if (!sliding.includes(true)) return {};
  if (w === null) throw new ModelLoadError('INVALID_ARGUMENT', `${source}: "layer_types" marks sliding_attention layers but the window is off (use_sliding_window false or sliding_window null)`);
  return { slidingWindows: sliding.map((s) => (s ? w : null)) };
}

/** The sliding window of layer i, or undefined for full causal attention. */
export function layerWindow(c: ModelConfig, layer: number): number | undefined {
  return c.slidingWindows?.[layer] ?? undefined;
}

/**
 * rope_scaling, checked against the rotary dimension it scales. transformers' Llama, Mistral and Qwen2
 * rotate whole heads (a partial_rotary_factor below 1 breaks their shapes), so it is refused there;
 * GPTNeoXConfig overwrites partial_rotary_factor with rotary_pct, which is what juice reads.
 */
function ropeScalingField(json: Json, architecture: Architecture, rotaryDims: number, source: string): Pick<ModelConfig, 'ropeScaling'> {
  const partial = json.partial_rotary_factor;
  if (architecture !== 'gpt_neox' && partial !== undefined && partial !== null && partial !== 1) {
    throw new ModelLoadError('INVALID_ARGUMENT', `${source}: "partial_rotary_factor" ${JSON.stringify(partial)} is not supported for ${architecture} (rotary embeddings cover the whole head)`);
  }
  const ropeScaling = parseRopeScaling(json.rope_scaling, source);
  checkRopeScaling(ropeScaling, rotaryDims, source);
  return ropeScaling ? { ropeScaling } : {};
}

function neoxConfig(json: Json, source: string): ModelConfig {
  const hiddenSize = need(json, 'hidden_size', source);
  const numHeads = need(json, 'num_attention_heads', source);
  const headDim = hiddenSize / numHeads;
  const pct = typeof json.rotary_pct === 'number' ? json.rotary_pct : 0.25;
  if (json.attention_bias !== undefined && typeof json.attention_bias !== 'boolean') throw new ModelLoadError('INVALID_ARGUMENT', `${source}: "attention_bias" must be true or false, got ${JSON.stringify(json.attention_bias)}`);
  if (json.hidden_act !== undefined && json.hidden_act !== 'gelu') throw new ModelLoadError('INVALID_ARGUMENT', `${source}: hidden_act ${JSON.stringify(json.hidden_act)} is not supported for gpt_neox (gelu)`);
  return {
    architecture: 'gpt_neox',
    vocabSize: need(json, 'vocab_size', source),
    hiddenSize,
    intermediateSize: need(json, 'intermediate_size', source),
    numLayers: need(json, 'num_hidden_layers', source),
    numHeads,
    numKvHeads: numHeads,
    headDim,
    rmsNormEps: 0,
    layerNormEps: typeof json.layer_norm_eps === 'number' ? json.layer_norm_eps : 1e-5,
    ropeTheta: typeof json.rotary_emb_base === 'number' ? json.rotary_emb_base : 10000,
    rotaryDims: Math.floor(headDim * pct),
    parallelResidual: json.use_parallel_residual !== false,
    maxPositions: typeof json.max_position_embeddings === 'number' ? json.max_position_embeddings : 2048,
    ...ropeScalingField(json, 'gpt_neox', Math.floor(headDim * pct), source),
    tieWordEmbeddings: json.tie_word_embeddings === true,
    // GPTNeoXConfig.attention_bias (default true) puts biases on both query_key_value and dense.
    qkvBias: json.attention_bias !== false,
    bosTokenId: typeof json.bos_token_id === 'number' ? json.bos_token_id : undefined,
    eosTokenId: typeof json.eos_token_id === 'number' ? json.eos_token_id : undefined,
  };
}

const HF_CLASS: Record<Architecture, string> = { llama: 'LlamaForCausalLM', mistral: 'MistralForCausalLM', qwen2: 'Qwen2ForCausalLM', gpt_neox: 'GPTNeoXForCausalLM' };

export function configToHf(c: ModelConfig, extra: Json = {}): Json {
  if (c.architecture === 'gpt_neox') {
    return {
      architectures: ['GPTNeoXForCausalLM'],
      model_type: 'gpt_neox',
      vocab_size: c.vocabSize,
      hidden_size: c.hiddenSize,
      intermediate_size: c.intermediateSize,
      num_hidden_layers: c.numLayers,
      num_attention_heads: c.numHeads,
      rotary_pct: (c.rotaryDims ?? c.headDim) / c.headDim,
      rotary_emb_base: c.ropeTheta,
      use_parallel_residual: c.parallelResidual !== false,
      layer_norm_eps: c.layerNormEps ?? 1e-5,
      hidden_act: 'gelu',
      ...(c.qkvBias ? {} : { attention_bias: false }),
      max_position_embeddings: c.maxPositions,
      ...(c.ropeScaling ? { rope_scaling: ropeScalingToHf(c.ropeScaling) } : {}),
      tie_word_embeddings: c.tieWordEmbeddings,
      ...(c.bosTokenId !== undefined ? { bos_token_id: c.bosTokenId } : {}),
      ...(c.eosTokenId !== undefined ? { eos_token_id: c.eosTokenId } : {}),
      ...extra,
    };
  }
  return {
    architectures: [HF_CLASS[c.architecture]],
    model_type: c.architecture,
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    head_dim: c.headDim,
    rms_norm_eps: c.rmsNormEps,
    rope_theta: c.ropeTheta,
    max_position_embeddings: c.maxPositions,
    ...(c.ropeScaling ? { rope_scaling: ropeScalingToHf(c.ropeScaling) } : {}),
    tie_word_embeddings: c.tieWordEmbeddings,
    hidden_act: 'silu',
    ...(c.architecture === 'llama' && c.qkvBias ? { attention_bias: true } : {}),
    ...(c.architecture === 'llama' && c.mlpBias ? { mlp_bias: true } : {}),
    ...slidingWindowKeys(c),
    ...(c.bosTokenId !== undefined ? { bos_token_id: c.bosTokenId } : {}),
    ...(c.eosTokenId !== undefined ? { eos_token_id: c.eosTokenId } : {}),
    ...(c.padTokenId !== undefined ? { pad_token_id: c.padTokenId } : {}),
    ...extra,
  };
}

/** config.json keys that reproduce c.slidingWindows under transformers (see slidingWindows). */
function slidingWindowKeys(c: ModelConfig): Json {
  const windows = c.slidingWindows ?? [];
  const sizes = [...new Set(windows.filter((w): w is number => w !== null && w !== undefined))];
  if (sizes.length > 1) throw new ModelLoadError('INVALID_ARGUMENT', `${c.architecture}: one sliding window size per model (transformers' sliding_window), got ${sizes.join(', ')}`);
  const w = sizes[0];
  if (c.architecture === 'mistral') {
    if (w !== undefined && windows.length === c.numLayers && windows.every((x) => x === w)) return { sliding_window: w };
    if (w === undefined) return { sliding_window: null }; // absent would mean MistralConfig's default of 4096
    throw new ModelLoadError('INVALID_ARGUMENT', 'mistral: transformers slides every layer or none');
  }
  if (c.architecture !== 'qwen2') {
    if (w !== undefined) throw new ModelLoadError('INVALID_ARGUMENT', `${c.architecture}: transformers has no sliding window for this architecture`);
    return {};
  }
  if (w === undefined) return { use_sliding_window: false };
  const types = Array.from({ length: c.numLayers }, (_, i) => (windows[i] ? 'sliding_attention' : 'full_attention'));
  const first = types.indexOf('sliding_attention');
  // max_window_layers too, for transformers versions before layer_types, when the pattern is expressible that way.
  const prefixForm = types.every((t, i) => (t === 'sliding_attention') === i >= first);
  return { use_sliding_window: true, sliding_window: w, ...(prefixForm ? { max_window_layers: first } : {}), layer_types: types };
}

/** Every trainable tensor with its Hugging Face name and shape, in checkpoint order. */
export function parameterShapes(c: ModelConfig): { name: string; shape: number[] }[] {
  if (c.architecture === 'gpt_neox') return neoxParameterShapes(c);
  const D = c.hiddenSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const out: { name: string; shape: number[] }[] = [{ name: 'model.embed_tokens.weight', shape: [c.vocabSize, D] }];
  for (let i = 0; i < c.numLayers; i++) {
    const p = `model.layers.${i}`;
    out.push({ name: `${p}.input_layernorm.weight`, shape: [D] });
    out.push({ name: `${p}.self_attn.q_proj.weight`, shape: [q, D] });
    if (c.qkvBias) out.push({ name: `${p}.self_attn.q_proj.bias`, shape: [q] });
    out.push({ name: `${p}.self_attn.k_proj.weight`, shape: [kv, D] });
    if (c.qkvBias) out.push({ name: `${p}.self_attn.k_proj.bias`, shape: [kv] });
    out.push({ name: `${p}.self_attn.v_proj.weight`, shape: [kv, D] });
    if (c.qkvBias) out.push({ name: `${p}.self_attn.v_proj.bias`, shape: [kv] });
    out.push({ name: `${p}.self_attn.o_proj.weight`, shape: [D, q] });
    if (c.oProjBias) out.push({ name: `${p}.self_attn.o_proj.bias`, shape: [D] });
    out.push({ name: `${p}.post_attention_layernorm.weight`, shape: [D] });
    out.push({ name: `${p}.mlp.gate_proj.weight`, shape: [c.intermediateSize, D] });
    if (c.mlpBias) out.push({ name: `${p}.mlp.gate_proj.bias`, shape: [c.intermediateSize] });
    out.push({ name: `${p}.mlp.up_proj.weight`, shape: [c.intermediateSize, D] });
    if (c.mlpBias) out.push({ name: `${p}.mlp.up_proj.bias`, shape: [c.intermediateSize] });
    out.push({ name: `${p}.mlp.down_proj.weight`, shape: [D, c.intermediateSize] });
    if (c.mlpBias) out.push({ name: `${p}.mlp.down_proj.bias`, shape: [D] });
  }
  out.push({ name: 'model.norm.weight', shape: [D] });
  if (!c.tieWordEmbeddings) out.push({ name: 'lm_head.weight', shape: [c.vocabSize, D] });
  return out;
}

function neoxParameterShapes(c: ModelConfig): { name: string; shape: number[] }[] {
  const D = c.hiddenSize;
  const I = c.intermediateSize;
  const out: { name: string; shape: number[] }[] = [{ name: 'gpt_neox.embed_in.weight', shape: [c.vocabSize, D] }];
  for (let i = 0; i < c.numLayers; i++) {
    const p = `gpt_neox.layers.${i}`;
    for (const n of ['input_layernorm', 'post_attention_layernorm']) out.push({ name: `${p}.${n}.weight`, shape: [D] }, { name: `${p}.${n}.bias`, shape: [D] });
    out.push({ name: `${p}.attention.query_key_value.weight`, shape: [3 * D, D] });
    if (c.qkvBias) out.push({ name: `${p}.attention.query_key_value.bias`, shape: [3 * D] });
    out.push({ name: `${p}.attention.dense.weight`, shape: [D, D] });
    if (c.qkvBias) out.push({ name: `${p}.attention.dense.bias`, shape: [D] });
    out.push({ name: `${p}.mlp.dense_h_to_4h.weight`, shape: [I, D] }, { name: `${p}.mlp.dense_h_to_4h.bias`, shape: [I] });
    out.push({ name: `${p}.mlp.dense_4h_to_h.weight`, shape: [D, I] }, { name: `${p}.mlp.dense_4h_to_h.bias`, shape: [D] });
  }
  out.push({ name: 'gpt_neox.final_layer_norm.weight', shape: [D] }, { name: 'gpt_neox.final_layer_norm.bias', shape: [D] });
  if (!c.tieWordEmbeddings) out.push({ name: 'embed_out.weight', shape: [c.vocabSize, D] });
  return out;
}

/**
 * A reward model (HF *ForSequenceClassification with one label): the backbone without the LM head,
 * plus `score.weight` [1, D] read at the last real token of each sequence.
 */
export function rewardParameterShapes(c: ModelConfig): { name: string; shape: number[] }[] {
  const { head, embed } = embeddingNames(c);
  return [...parameterShapes(c).filter((p) => p.name !== head || head === embed), { name: 'score.weight', shape: [1, c.hiddenSize] }];
}

/** Names of the token embedding and output head of an architecture. */
export function embeddingNames(c: ModelConfig): { embed: string; head: string } {
  if (c.architecture === 'gpt_neox') return { embed: 'gpt_neox.embed_in.weight', head: c.tieWordEmbeddings ? 'gpt_neox.embed_in.weight' : 'embed_out.weight' };
  return { embed: 'model.embed_tokens.weight', head: c.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight' };
}

export function parameterCount(c: ModelConfig, { embeddings = true } = {}): number {
  return parameterShapes(c)
    .filter((p) => embeddings || (p.name !== embeddingNames(c).embed && p.name !== embeddingNames(c).head))
    .reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
}
