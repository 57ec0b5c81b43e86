// GPT-NeoX (Pythia): LayerNorm with bias, one fused QKV projection laid out per head as [q | k | v],
// rotary embeddings on the first `rotaryDims` of each head, GELU MLP, and (by default) the parallel
// residual x + attn(ln₁ x) + mlp(ln₂ x).
import type { StTensor } from '@juice/checkpoint';
import type { GraphBuilder, Value } from '@juice/onnx';
import { ModelLoadError } from '../errors.js';
import { applyRotary, linear, rotaryTables } from '../layers.js';
import { ropeScalingToHf } from '../rope.js';
import type { Architecture, ModelConfig, ParameterShape } from '../model-config.js';
import type { Attend, FloatType, Weights } from '../graph/types.js';
import { need, ropeScalingField } from './hf-json.js';
import type { ArchitectureModule, Json } from './types.js';

function configFromHf(json: Json, _architecture: Architecture, source: string): ModelConfig {
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
    // GPTNeoXConfig overwrites partial_rotary_factor with rotary_pct, which is what juice reads.
    ...ropeScalingField(json, Math.floor(headDim * pct), source),
    tieWordEmbeddings: json.tie_word_embeddings === true,
    // GPTNeoXConfig.attention_bias (default true) puts biases on both query_key_value and dense.
    qkvBias: json.attention_bias !== false,
    bosTokenId: typeof json.bos_token_id === 'number' ? json.bos_token_id : undefined,
    eosTokenId: typeof json.eos_token_id === 'number' ? json.eos_token_id : undefined,
  };
}

function configToHf(c: ModelConfig, extra: Json): Json {
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

const LAYERS = 'gpt_neox.layers.';

function parameterShapes(c: ModelConfig): ParameterShape[] {
  const D = c.hiddenSize;
  const I = c.intermediateSize;
  const out: ParameterShape[] = [{ name: 'gpt_neox.embed_in.weight', shape: [c.vocabSize, D] }];
  for (let i = 0; i < c.numLayers; i++) {
    const p = `${LAYERS}${i}`;
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

function embeddingNames(c: ModelConfig): { embed: string; head: string } {
  return { embed: 'gpt_neox.embed_in.weight', head: c.tieWordEmbeddings ? 'gpt_neox.embed_in.weight' : 'embed_out.weight' };
}

function layerNorm(g: GraphBuilder, x: Value, w: Value, b: Value, eps: number): Value {
  return g.layerNorm(x, w, b, { axis: -1, epsilon: eps })[0];
}

/** Exact GELU. ORT 1.30 has no float64 Erf kernel, so in float64 graphs only the Erf runs in float32. */
function gelu(g: GraphBuilder, x: Value, dtype: FloatType): Value {
  const scaled = g.mul(x, g.scalar(Math.SQRT1_2, dtype));
  const erf = dtype === 'float64' ? g.cast(g.erf(g.cast(scaled, 'float32')), 'float64') : g.erf(scaled);
  return g.mul(g.mul(x, g.scalar(0.5, dtype)), g.add(erf, g.scalar(1, dtype)));
}

/** The GPT-NeoX decoder stack; returns the final hidden states [B·T, D] (after the final LayerNorm). */
export function neoxBackbone(g: GraphBuilder, c: ModelConfig, w: Weights, ids: Value, positions: Value, attend: Attend, dtype: FloatType): Value {
  const D = c.hiddenSize;
  const H = c.numHeads;
  const hd = c.headDim;
  const r = c.rotaryDims ?? hd;
  const eps = c.layerNormEps ?? 1e-5;
  const { cos, sin } = rotaryTables(g, positions, r, c.ropeTheta, dtype, c);
  const bt = g.shape(ids);
  const scale = g.scalar(1 / Math.sqrt(hd), dtype);
  const rotate = (x: Value) => {
    if (r === hd) return applyRotary(g, x, cos, sin, r);
    const [rot, pass] = g.split(x, [r, hd - r], -1);
    return g.concat([applyRotary(g, rot!, cos, sin, r), pass!], -1);
  };

  let x = g.reshape(g.gather(w('gpt_neox.embed_in.weight'), ids), [-1, D]);
  for (let i = 0; i < c.numLayers; i++) {
    const p = `${LAYERS}${i}`;
    const h = layerNorm(g, x, w(`${p}.input_layernorm.weight`), w(`${p}.input_layernorm.bias`), eps);
    // attention_bias (qkvBias) covers both query_key_value and dense, as in transformers' GPTNeoXAttention.
    const qkv = linear(g, h, w(`${p}.attention.query_key_value.weight`), c.qkvBias ? w(`${p}.attention.query_key_value.bias`) : undefined);
    const perHead = g.transpose(g.reshape(qkv, g.concat([bt, g.ints([H, 3 * hd])], 0)), [0, 2, 1, 3]); // [B, H, T, 3d]
    const [q, k, v] = g.split(perHead, [hd, hd, hd], -1);
    const ctx = attend(i, g.mul(rotate(q!), scale), rotate(k!), v!);
    const merged = g.reshape(g.transpose(ctx, [0, 2, 1, 3]), [-1, D]);
    const attn = linear(g, merged, w(`${p}.attention.dense.weight`), c.qkvBias ? w(`${p}.attention.dense.bias`) : undefined);
    const mlp = (y: Value) =>
      linear(g, gelu(g, linear(g, y, w(`${p}.mlp.dense_h_to_4h.weight`), w(`${p}.mlp.dense_h_to_4h.bias`)), dtype), w(`${p}.mlp.dense_4h_to_h.weight`), w(`${p}.mlp.dense_4h_to_h.bias`));
    const ln2 = (y: Value) => layerNorm(g, y, w(`${p}.post_attention_layernorm.weight`), w(`${p}.post_attention_layernorm.bias`), eps);
    if (c.parallelResidual !== false) x = g.add(g.add(x, attn), mlp(ln2(x)));
    else {
      x = g.add(x, attn);
      x = g.add(x, mlp(ln2(x)));
    }
  }
  return layerNorm(g, x, w('gpt_neox.final_layer_norm.weight'), w('gpt_neox.final_layer_norm.bias'), eps);
}

const CAUSAL_MASK = /^gpt_neox\.layers\.\d+\.attention\.bias$/;
const MASK_VALUE = /^gpt_neox\.layers\.\d+\.attention\.masked_bias$/;

/** The causal mask and masked-score value older GPTNeoXAttention saved as buffers (juice applies its own). */
function derivedBuffer(name: string, t: StTensor): string | undefined {
  if (CAUSAL_MASK.test(name)) {
    const n = t.shape[2] ?? 0;
    const ok = t.shape.length === 4 && t.shape[0] === 1 && t.shape[1] === 1 && t.shape[3] === n && t.data.every((v, k) => (Number(v) !== 0) === (k % n <= Math.floor(k / n)));
    return ok ? '' : `tensor "${name}" is not the causal mask (lower-triangular ones, [1, 1, n, n]) that juice applies: the model would attend differently`;
  }
  if (MASK_VALUE.test(name)) {
    // The score written at masked positions: any value this negative gives them zero attention weight.
    return t.data.length === 1 && Number(t.data[0]) <= -1e4 ? '' : `tensor "${name}" (the masked-score value) is not a single value ≤ -1e4, so masked positions would keep attention weight`;
  }
  return undefined;
}

export const gptNeox: ArchitectureModule = {
  modelTypes: ['gpt_neox'],
  causalLmClass: () => 'GPTNeoXForCausalLM',
  sequenceClassifierClass: () => 'GPTNeoXForSequenceClassification',
  scoreHead: 'score.weight',
  configFromHf,
  configToHf,
  parameterShapes,
  embeddingNames,
  layerPrefix: LAYERS,
  defaultLoraTargets: () => ['query_key_value', 'attention.dense'],
  backbone: neoxBackbone,
  invFreqBuffer: /^gpt_neox\.(layers\.\d+\.(self_attn|attention)\.)?rotary_emb\.inv_freq$/,
  rotaryDims: (c) => c.rotaryDims ?? c.headDim,
  derivedBuffer,
};
