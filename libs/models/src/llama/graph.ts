// The Llama-family causal LM as an ONNX graph, weights as graph inputs named by their HF tensor names
// (so one flat parameter buffer feeds them zero-copy and checkpoints map 1:1). The training forward
// ends in the per-token log-probs every objective builds on: SFT uses `loss`, DPO/IRFT the per-sequence
// sums `seq_logprobs`, RFT the per-token `token_logprobs`.
import { GraphBuilder, type Graph, type Value } from '@juice/onnx';
import type { ParamSet } from '@juice/optim';
import { embeddingNames, layerWindow, parameterShapes, rewardParameterShapes, type ModelConfig } from '../config.js';
import { neoxBackbone } from '../neox/backbone.js';
import { withLora, type LoraSpec } from '../lora.js';
import { applyRotary, causalPaddingBias, lastTokenRows, linear, positionsFromMask, rmsNorm, rotaryTables, swiGlu } from '../layers.js';

export type FloatType = 'float32' | 'float64';

export interface CausalLmGraphOptions {
  dtype?: FloatType;
  /** Train LoRA adapters: their inputs are added and `trainable` lists them instead of the base weights. */
  lora?: LoraSpec;
  /** Bake these base weights into the graph as initializers (frozen), e.g. under LoRA. */
  frozenBase?: ParamSet;
  /** Also output `logits` [B, T, V] (tests, and evaluation of small vocabularies). */
  logits?: boolean;
  /** Also output `token_is_greedy` [B, T] (bool): whether each label is the argmax (lm-eval is_greedy). */
  greedy?: boolean;
  /**
   * Add a scalar value head on the final hidden states (RFT's APA/PPO critic): inputs `v_head.weight`
   * [1, D] and `v_head.bias` [1] (valueHeadShapes), output `values` [B, T]. values[t] estimates the return
   * from position t on, aligned with token_logprobs[t] (the state before the token labels[t] is emitted).
   */
  valueHead?: boolean;
  name?: string;
}

/** The value head's tensors (trl's AutoModelForCausalLMWithValueHead names them v_head.summary.*; juice keeps it flat). */
export function valueHeadShapes(c: ModelConfig): { name: string; shape: number[] }[] {
  return [
    { name: 'v_head.weight', shape: [1, c.hiddenSize] },
    { name: 'v_head.bias', shape: [1] },
  ];
}

export interface CausalLm {
  graph: Graph;
  /** Weight inputs (HF names), in parameterShapes order. */
  weights: string[];
  /** What to differentiate: all weights, or only the LoRA adapters. */
  trainable: string[];
  /** Data inputs: input_ids, attention_mask, labels (all int64 [B, T]). */
  inputs: readonly ['input_ids', 'attention_mask', 'labels'];
  /** Scalar outputs a train step fetches besides gradients. */
  scalars: string[];
}

/**
 * Attention over one layer's heads: q [B, H, T, d] (scaled, rotated), k and v [B, Hkv, T, d] (k rotated)
 * → context [B, H, T, d]. Training and prefill attend causally within the batch; decode also attends
 * to the KV cache. Layer index lets decode find its cache inputs.
 */
export type Attend = (layer: number, q: Value, k: Value, v: Value) => Value;

/**
 * Grouped-query attention without repeating K/V: the H/Hkv query heads that share a KV head are stacked
 * along time ([B, Hkv, rep·Tq, d]), so it is one batched MatMul per KV head. `bias` broadcasts to
 * [B, H, Tq, Tk].
 */
export function groupedAttention(g: GraphBuilder, c: ModelConfig, q: Value, k: Value, v: Value, bias: Value): Value {
  const B = g.shape(q, 0, 1);
  const Tq = g.shape(q, 2, 3);
  const Tk = g.shape(k, 2, 3);
  const dims = (...parts: Value[]) => g.concat(parts, 0);
  const qg = g.reshape(q, dims(B, g.ints([c.numKvHeads, -1, c.headDim])));
  const scores = g.reshape(g.matmul(qg, g.transpose(k, [0, 1, 3, 2])), dims(B, g.ints([c.numHeads]), Tq, Tk));
  const probs = g.softmax(g.add(scores, bias), -1);
  const ctx = g.matmul(g.reshape(probs, dims(B, g.ints([c.numKvHeads, -1]), Tk)), v); // [B, Hkv, rep·Tq, d]
  return g.reshape(ctx, dims(B, g.ints([c.numHeads]), Tq, g.ints([c.headDim])));
}

/**
 * Training/prefill attention bias per layer: full causal + padding, or the layer's sliding window on top
 * (one bias per distinct window, shared by the layers that use it).
 */
export function layerBiases(g: GraphBuilder, c: ModelConfig, mask: Value, dtype: FloatType): (layer: number) => Value {
  const byWindow = new Map<number | undefined, Value>();
  return (layer) => {
    const w = layerWindow(c, layer);
    if (!byWindow.has(w)) byWindow.set(w, causalPaddingBias(g, mask, dtype, w));
    return byWindow.get(w)!;
  };
}

/** Adds the decoder stack; returns the final hidden states [B·T, D] (after the last norm). */
export function llamaBackbone(g: GraphBuilder, c: ModelConfig, w: (name: string) => Value, ids: Value, positions: Value, attend: Attend, dtype: FloatType): Value {
  const D = c.hiddenSize;
  const hd = c.headDim;
  const H = c.numHeads;
  const Hkv = c.numKvHeads;
  const { cos, sin } = rotaryTables(g, positions, hd, c.ropeTheta, dtype, c);
  const bt = g.shape(ids); // [B, T]
  const scale = g.scalar(1 / Math.sqrt(hd), dtype);

  let x = g.reshape(g.gather(w('model.embed_tokens.weight'), ids), [-1, D]);
  for (let i = 0; i < c.numLayers; i++) {
    const p = `model.layers.${i}`;
    const h = rmsNorm(g, x, w(`${p}.input_layernorm.weight`), c.rmsNormEps);
    const bq = c.qkvBias ? w(`${p}.self_attn.q_proj.bias`) : undefined;
    const bk = c.qkvBias ? w(`${p}.self_attn.k_proj.bias`) : undefined;
    const bv = c.qkvBias ? w(`${p}.self_attn.v_proj.bias`) : undefined;
    // [B·T, heads·d] → [B, heads, T, d]
    const heads = (v: Value, n: number) => g.transpose(g.reshape(v, g.concat([bt, g.ints([n, hd])], 0)), [0, 2, 1, 3]);
    const q = applyRotary(g, heads(linear(g, h, w(`${p}.self_attn.q_proj.weight`), bq), H), cos, sin, hd);
    const k = applyRotary(g, heads(linear(g, h, w(`${p}.self_attn.k_proj.weight`), bk), Hkv), cos, sin, hd);
    const v = heads(linear(g, h, w(`${p}.self_attn.v_proj.weight`), bv), Hkv);
    const ctx = attend(i, g.mul(q, scale), k, v);
    const merged = g.reshape(g.transpose(ctx, [0, 2, 1, 3]), [-1, H * hd]);
    x = g.add(x, linear(g, merged, w(`${p}.self_attn.o_proj.weight`), c.oProjBias ? w(`${p}.self_attn.o_proj.bias`) : undefined));
    const h2 = rmsNorm(g, x, w(`${p}.post_attention_layernorm.weight`), c.rmsNormEps);
    const mlpBias = c.mlpBias ? { gate: w(`${p}.mlp.gate_proj.bias`), up: w(`${p}.mlp.up_proj.bias`), down: w(`${p}.mlp.down_proj.bias`) } : undefined;
    x = g.add(x, swiGlu(g, h2, w(`${p}.mlp.gate_proj.weight`), w(`${p}.mlp.up_proj.weight`), w(`${p}.mlp.down_proj.weight`), mlpBias));
  }
  return rmsNorm(g, x, w('model.norm.weight'), c.rmsNormEps);
}

/** Weight inputs of a model graph by HF name, and the output head (LM head, or a reward model's score). */
export function weightInputs(g: GraphBuilder, c: ModelConfig, dtype: FloatType, kind: 'lm' | 'reward' = 'lm', frozen?: ParamSet) {
  const shapes = kind === 'lm' ? parameterShapes(c) : rewardParameterShapes(c);
  // Frozen weights (the base model under LoRA) are baked in as initializers; the rest are inputs.
  const weights = new Map(
    shapes.map((p) => {
      if (!frozen) return [p.name, g.input(p.name, dtype, p.shape)];
      const v = frozen.view(p.name);
      const data = dtype === 'float32' ? new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength)) : new Uint8Array(Float64Array.from(v).buffer);
      return [p.name, g.initializer(p.name, { dtype, dims: [...p.shape], data })];
    }),
  );
  const w = (name: string) => {
    const v = weights.get(name);
    if (!v) throw new Error(`${c.architecture} graph: no weight input ${name}`);
    return v;
  };
  return { names: frozen ? [] : shapes.map((p) => p.name), w, head: w(kind === 'lm' ? embeddingNames(c).head : 'score.weight') };
}

/** The decoder stack of any supported architecture (final hidden states [B·T, D]). */
export function backbone(g: GraphBuilder, c: ModelConfig, w: (name: string) => Value, ids: Value, positions: Value, attend: Attend, dtype: FloatType): Value {
  return c.architecture === 'gpt_neox' ? neoxBackbone(g, c, w, ids, positions, attend, dtype) : llamaBackbone(g, c, w, ids, positions, attend, dtype);
}

/**
 * Training/evaluation forward: `labels` [B, T] hold the token to predict at each position (already
 * shifted: labels[t] = input_ids[t+1]) or −100 where nothing is predicted (prompt, padding).
 * Outputs: `loss` (mean cross-entropy over predicted tokens), `token_logprobs` [B, T] (0 where
 * ignored), `seq_logprobs` [B] (their sum), optional `logits` and `token_is_greedy`.
 */
export function buildCausalLm(c: ModelConfig, o: CausalLmGraphOptions = {}): CausalLm {
  const dtype = o.dtype ?? 'float32';
  const g = new GraphBuilder(o.name ?? `${c.architecture}_causal_lm`);
  const ids = g.input('input_ids', 'int64', ['B', 'T']);
  const mask = g.input('attention_mask', 'int64', ['B', 'T']);
  const labels = g.input('labels', 'int64', ['B', 'T']);
  const { names, w: base, head } = weightInputs(g, c, dtype, 'lm', o.frozenBase);
  const lora = o.lora ? withLora(g, c, o.lora, base, dtype) : undefined;
  const w = lora?.w ?? base;
  const bias = layerBiases(g, c, mask, dtype);
  const hidden = backbone(g, c, w, ids, positionsFromMask(g, mask), (i, q, k, v) => groupedAttention(g, c, q, k, v, bias(i)), dtype);
  const logits = linear(g, hidden, head); // [B·T, V]
  const flatLabels = g.reshape(labels, [-1]);
  const [loss, logProbs] = g.softmaxCrossEntropyLoss(logits, flatLabels, { ignoreIndex: -100, reduction: 'mean' });
  g.output(loss!, 'loss');
  const valid = g.greater(flatLabels, g.constant({ dtype: 'int64', dims: [], data: new Uint8Array(new BigInt64Array([-1n]).buffer) }, 'minus_one_i64'));
  const safe = g.where(valid, flatLabels, g.constant({ dtype: 'int64', dims: [], data: new Uint8Array(8) }, 'zero_i64'));
  const picked = g.reshape(g.gatherElements(logProbs!, g.unsqueeze(safe, [1]), 1), [-1]);
  const tokenLogps = g.reshape(g.mul(picked, g.cast(valid, dtype)), g.shape(labels));
  g.output(tokenLogps, 'token_logprobs');
  g.output(g.reduceSum(tokenLogps, [1], false), 'seq_logprobs');
  if (o.logits) g.output(g.reshape(logits, g.concat([g.shape(labels), g.ints([c.vocabSize])], 0)), 'logits');
  if (o.greedy) {
    const argmax = g.reshape(g.argmax(logits, -1, false), [-1]);
    g.output(g.reshape(g.equal(argmax, flatLabels), g.shape(labels)), 'token_is_greedy');
  }
  const valueNames: string[] = [];
  if (o.valueHead) {
    const [wv, bv] = valueHeadShapes(c).map((p) => (valueNames.push(p.name), g.input(p.name, dtype, p.shape)));
    g.output(g.reshape(linear(g, hidden, wv!, bv!), g.shape(labels)), 'values');
  }
  const weights = [...names, ...(lora?.adapters ?? []), ...valueNames];
  return { graph: g.build(), weights, trainable: [...(lora?.adapters ?? names), ...valueNames], inputs: ['input_ids', 'attention_mask', 'labels'], scalars: ['loss'] };
}

/**
 * Reward model forward: input_ids and attention_mask [B, T] (right padding) → `rewards` [B], the score
 * head applied to the last real token's hidden state (as HF *ForSequenceClassification).
 */
export function buildRewardModel(c: ModelConfig, o: { dtype?: FloatType } = {}): { graph: Graph; weights: string[] } {
  const dtype = o.dtype ?? 'float32';
  const g = new GraphBuilder(`${c.architecture}_reward_model`);
  const ids = g.input('input_ids', 'int64', ['B', 'T']);
  const mask = g.input('attention_mask', 'int64', ['B', 'T']);
  const { names, w, head } = weightInputs(g, c, dtype, 'reward');
  const bias = layerBiases(g, c, mask, dtype);
  const hidden = backbone(g, c, w, ids, positionsFromMask(g, mask), (i, q, k, v) => groupedAttention(g, c, q, k, v, bias(i)), dtype);
  g.output(g.reshape(linear(g, lastTokenRows(g, hidden, mask), head), [-1]), 'rewards');
  return { graph: g.build(), weights: names };
}
