// The Llama family: Llama, Mistral and Qwen2 (RMSNorm, RoPE over whole heads, SwiGLU, grouped-query
// attention). They differ only in which projections carry biases (Qwen2 q/k/v; Llama attention_bias and
// mlp_bias) and in sliding-window attention (Mistral, Qwen2), which is why one module serves all three.
import type { GraphBuilder, Value } from '@juice/onnx';
import { ModelLoadError } from '../errors.js';
import { linear, residualRmsNorm, rmsNorm, rotaryRows, rotaryTables, swiGlu } from '../layers.js';
import { ropeScalingToHf } from '../rope.js';
import type { Architecture, ModelConfig, ParameterShape } from '../model-config.js';
import type { Attend, FloatType, Weights } from '../graph/types.js';
import { need, ropeScalingField } from './hf-json.js';
import type { ArchitectureModule, Json } from './types.js';

const CAUSAL_LM: Readonly<Record<string, string>> = { llama: 'LlamaForCausalLM', mistral: 'MistralForCausalLM', qwen2: 'Qwen2ForCausalLM' };
const SEQUENCE_CLASSIFIER: Readonly<Record<string, string>> = {
  llama: 'LlamaForSequenceClassification',
  mistral: 'MistralForSequenceClassification',
  qwen2: 'Qwen2ForSequenceClassification',
};

function configFromHf(json: Json, architecture: Architecture, source: string): ModelConfig {
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
    ...wholeHeadRopeScaling(json, architecture, headDim, source),
    tieWordEmbeddings: json.tie_word_embeddings === true,
    ...projectionBiases(json, architecture, source),
    ...slidingWindows(json, architecture, numLayers, source),
    bosTokenId: typeof json.bos_token_id === 'number' ? json.bos_token_id : undefined,
    eosTokenId: typeof json.eos_token_id === 'number' || Array.isArray(json.eos_token_id) ? (json.eos_token_id as number | number[]) : undefined,
    padTokenId: typeof json.pad_token_id === 'number' ? json.pad_token_id : undefined,
  };
}

/**
 * transformers' Llama, Mistral and Qwen2 rotate whole heads (a partial_rotary_factor below 1 breaks their
 * shapes), so it is refused; rope_scaling is checked against the head dimension.
 */
function wholeHeadRopeScaling(json: Json, architecture: Architecture, headDim: number, source: string): Pick<ModelConfig, 'ropeScaling'> {
  const partial = json.partial_rotary_factor;
  if (partial !== undefined && partial !== null && partial !== 1) {
    throw new ModelLoadError('INVALID_ARGUMENT', `${source}: "partial_rotary_factor" ${JSON.stringify(partial)} is not supported for ${architecture} (rotary embeddings cover the whole head)`);
  }
  return ropeScalingField(json, headDim, source);
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
      throw new ModelLoadError('INVALID_ARGUMENT', `${source}: "${key}": true is not supported for ${architecture} (transformers' ${CAUSAL_LM[architecture]} has no such bias; only llama honours it)`);
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

function configToHf(c: ModelConfig, extra: Json): Json {
  return {
    architectures: [CAUSAL_LM[c.architecture]],
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

const LAYERS = 'model.layers.';

function parameterShapes(c: ModelConfig): ParameterShape[] {
  const D = c.hiddenSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const out: ParameterShape[] = [{ name: 'model.embed_tokens.weight', shape: [c.vocabSize, D] }];
  for (let i = 0; i < c.numLayers; i++) {
    const p = `${LAYERS}${i}`;
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

function embeddingNames(c: ModelConfig): { embed: string; head: string } {
  return { embed: 'model.embed_tokens.weight', head: c.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight' };
}

/** The Llama decoder stack; returns the final hidden states [B·T, D] (after the last norm). */
export function llamaBackbone(g: GraphBuilder, c: ModelConfig, w: Weights, ids: Value, positions: Value, attend: Attend, dtype: FloatType): Value {
  const D = c.hiddenSize;
  const hd = c.headDim;
  const H = c.numHeads;
  const Hkv = c.numKvHeads;
  const { cos, sin } = rotaryTables(g, positions, hd, c.ropeTheta, dtype, c);
  const bt = g.shape(ids); // [B, T]
  const scale = g.scalar(1 / Math.sqrt(hd), dtype);

  const rope = rotaryRows(g, cos, sin, bt, hd); // [B·T, n·d] → rotated heads [B, n, T, d]

  let x = g.reshape(g.gather(w('model.embed_tokens.weight'), ids), [-1, D]);
  // Each residual add is fused into the norm that follows it (`branch` waits for it).
  let branch: Value | undefined;
  const norm = (name: string) => {
    if (!branch) return rmsNorm(g, x, w(name), c.rmsNormEps);
    const r = residualRmsNorm(g, x, branch, w(name), c.rmsNormEps);
    x = r.x;
    return r.h;
  };
  for (let i = 0; i < c.numLayers; i++) {
    const p = `${LAYERS}${i}`;
    const h = norm(`${p}.input_layernorm.weight`);
    const bq = c.qkvBias ? w(`${p}.self_attn.q_proj.bias`) : undefined;
    const bk = c.qkvBias ? w(`${p}.self_attn.k_proj.bias`) : undefined;
    const bv = c.qkvBias ? w(`${p}.self_attn.v_proj.bias`) : undefined;
    // [B·T, heads·d] → [B, heads, T, d]
    const heads = (v: Value, n: number) => g.transpose(g.reshape(v, g.concat([bt, g.ints([n, hd])], 0)), [0, 2, 1, 3]);
    const q = rope(linear(g, h, w(`${p}.self_attn.q_proj.weight`), bq), H);
    const k = rope(linear(g, h, w(`${p}.self_attn.k_proj.weight`), bk), Hkv);
    const v = heads(linear(g, h, w(`${p}.self_attn.v_proj.weight`), bv), Hkv);
    const ctx = attend(i, g.mul(q, scale), k, v);
    const merged = g.reshape(g.transpose(ctx, [0, 2, 1, 3]), [-1, H * hd]);
    branch = linear(g, merged, w(`${p}.self_attn.o_proj.weight`), c.oProjBias ? w(`${p}.self_attn.o_proj.bias`) : undefined);
    const h2 = norm(`${p}.post_attention_layernorm.weight`);
    const mlpBias = c.mlpBias ? { gate: w(`${p}.mlp.gate_proj.bias`), up: w(`${p}.mlp.up_proj.bias`), down: w(`${p}.mlp.down_proj.bias`) } : undefined;
    branch = swiGlu(g, h2, w(`${p}.mlp.gate_proj.weight`), w(`${p}.mlp.up_proj.weight`), w(`${p}.mlp.down_proj.weight`), mlpBias);
  }
  return norm('model.norm.weight');
}

export const llamaFamily: ArchitectureModule = {
  modelTypes: ['llama', 'mistral', 'qwen2'],
  causalLmClass: (a) => CAUSAL_LM[a]!,
  sequenceClassifierClass: (a) => SEQUENCE_CLASSIFIER[a]!,
  scoreHead: 'score.weight',
  configFromHf,
  configToHf,
  parameterShapes,
  embeddingNames,
  layerPrefix: LAYERS,
  defaultLoraTargets: () => ['q_proj', 'k_proj', 'v_proj', 'o_proj'],
  backbone: llamaBackbone,
  // Older transformers versions saved it per layer or once per model.
  invFreqBuffer: /^model\.(layers\.\d+\.(self_attn|attention)\.)?rotary_emb\.inv_freq$/,
  rotaryDims: (c) => c.headDim,
};
