// GPT-NeoX (Pythia) decoder stack: LayerNorm with bias, one fused QKV projection laid out per head as
// [q | k | v], rotary embeddings on the first `rotaryDims` of each head, GELU MLP, and (by default)
// the parallel residual x + attn(ln₁ x) + mlp(ln₂ x). Same Attend contract as the Llama backbone.
import type { GraphBuilder, Value } from '@juice/onnx';
import type { ModelConfig } from '../config.js';
import { applyRotary, linear, rotaryTables } from '../layers.js';
import type { Attend, FloatType } from '../llama/graph.js';

function layerNorm(g: GraphBuilder, x: Value, w: Value, b: Value, eps: number): Value {
  return g.layerNorm(x, w, b, { axis: -1, epsilon: eps })[0];
}

/** Exact GELU. ORT 1.30 has no float64 Erf kernel, so in float64 graphs only the Erf runs in float32. */
function gelu(g: GraphBuilder, x: Value, dtype: FloatType): Value {
  const scaled = g.mul(x, g.scalar(Math.SQRT1_2, dtype));
  const erf = dtype === 'float64' ? g.cast(g.erf(g.cast(scaled, 'float32')), 'float64') : g.erf(scaled);
  return g.mul(g.mul(x, g.scalar(0.5, dtype)), g.add(erf, g.scalar(1, dtype)));
}

export function neoxBackbone(g: GraphBuilder, c: ModelConfig, w: (name: string) => Value, ids: Value, positions: Value, attend: Attend, dtype: FloatType): Value {
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
    const p = `gpt_neox.layers.${i}`;
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
