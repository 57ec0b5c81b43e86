// The causal LM as an ONNX graph, weights as graph inputs named by their HF tensor names (so one flat
// parameter buffer feeds them zero-copy and checkpoints map 1:1). The training forward ends in the
// per-token log-probs every objective builds on: SFT uses `loss`, DPO/IRFT the per-sequence sums
// `seq_logprobs`, RFT the per-token `token_logprobs`.
import { GraphBuilder, type Graph } from '@juice/onnx';
import type { ParamSet } from '@juice/optim';
import { backbone } from '../architectures/registry.js';
import { linear, positionsFromMask } from '../layers.js';
import { withLora, withStackedLora, type LoraGraphOptions, type LoraSpec } from '../lora.js';
import type { ModelConfig } from '../model-config.js';
import { groupedAttention, layerBiases } from './attention.js';
import type { FloatType } from './types.js';
import { weightInputs } from './weights.js';

export interface CausalLmGraphOptions {
  dtype?: FloatType;
  /** Train LoRA adapters: their inputs are added and `trainable` lists them instead of the base weights. */
  lora?: LoraSpec;
  /** LoRA graph options: `train` applies lora_dropout; `switchable` adds the `lora_enabled` input (0 = the base, for references). */
  loraGraph?: LoraGraphOptions;
  /**
   * Serve held adapters (forward only): every Linear also takes the stacked adapter inputs and the
   * per-row column mask `lora_row_mask` [B·T, S] (withStackedLora), so one session scores with the base
   * or any held adapter without rebuilding. Not with `lora`.
   */
  stackedLora?: boolean;
  /**
   * Bake these base weights into the graph as initializers (frozen), e.g. under LoRA. Without it the
   * base weights stay inputs (fed from one buffer, no copy in the model) and are still not differentiated
   * under LoRA: `trainable` lists only the adapters.
   */
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
  const { names, w, head } = weightInputs(g, c, dtype, 'lm', o.frozenBase);
  if (o.lora && o.stackedLora) throw new Error('buildCausalLm: lora (trained adapters) and stackedLora (served adapters) are exclusive');
  const lora = o.lora ? withLora(g, c, o.lora, dtype, o.loraGraph) : o.stackedLora ? withStackedLora(g, c, dtype) : undefined;
  const bias = layerBiases(g, c, mask, dtype);
  const hidden = backbone(lora?.g ?? g, c, w, ids, positionsFromMask(g, mask), (i, q, k, v) => groupedAttention(g, c, q, k, v, bias(i)), dtype);
  lora?.check();
  const adapters = lora && 'adapters' in lora ? lora.adapters : undefined;
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
  const weights = [...names, ...(adapters ?? []), ...valueNames];
  return { graph: g.build(), weights, trainable: [...(adapters ?? names), ...valueNames], inputs: ['input_ids', 'attention_mask', 'labels'], scalars: ['loss'] };
}
