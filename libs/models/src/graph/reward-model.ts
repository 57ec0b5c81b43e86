// The reward model graph (HF *ForSequenceClassification with one label).
import { GraphBuilder, type Graph } from '@juice/onnx';
import { backbone, scoreHeadName } from '../architectures/registry.js';
import { lastTokenRows, linear, positionsFromMask } from '../layers.js';
import { withLora, withStackedLora, type LoraGraphOptions, type LoraSpec } from '../lora.js';
import type { ModelConfig } from '../model-config.js';
import type { ParamSet } from '@juice/optim';
import { groupedAttention, layerBiases } from './attention.js';
import type { FloatType } from './types.js';
import { weightInputs } from './weights.js';

export interface RewardModelGraphOptions {
  dtype?: FloatType;
  /** LoRA adapters on the backbone; the score head trains alongside them (PEFT SEQ_CLS modules_to_save). */
  lora?: LoraSpec;
  loraGraph?: LoraGraphOptions;
  /** Serve a pushed adapter (forward only): stacked adapter inputs and `lora_row_mask` [B·T, S] on every Linear (withStackedLora). Not with `lora`. */
  stackedLora?: boolean;
  /** Bake the base weights (all but the score head, which stays an input) into the graph, e.g. under LoRA. */
  frozenBase?: ParamSet;
}

/**
 * Reward model forward: input_ids and attention_mask [B, T] (right padding) → `rewards` [B], the score
 * head applied to the last real token's hidden state (as HF *ForSequenceClassification).
 * `trainable`: every weight, or under LoRA the adapters and the score head.
 */
export function buildRewardModel(c: ModelConfig, o: RewardModelGraphOptions = {}): { graph: Graph; weights: string[]; trainable: string[] } {
  const dtype = o.dtype ?? 'float32';
  const g = new GraphBuilder(`${c.architecture}_reward_model`);
  const ids = g.input('input_ids', 'int64', ['B', 'T']);
  const mask = g.input('attention_mask', 'int64', ['B', 'T']);
  const score = scoreHeadName(c);
  const { names, w, head } = weightInputs(g, c, dtype, 'reward', o.frozenBase, [score]);
  if (o.lora && o.stackedLora) throw new Error('buildRewardModel: lora (trained adapters) and stackedLora (served adapters) are exclusive');
  const lora = o.lora ? withLora(g, c, o.lora, dtype, o.loraGraph) : undefined;
  const stacked = o.stackedLora ? withStackedLora(g, c, dtype) : undefined;
  const bias = layerBiases(g, c, mask, dtype);
  const hidden = backbone(lora?.g ?? stacked?.g ?? g, c, w, ids, positionsFromMask(g, mask), (i, q, k, v) => groupedAttention(g, c, q, k, v, bias(i)), dtype);
  lora?.check();
  stacked?.check();
  g.output(g.reshape(linear(g, lastTokenRows(g, hidden, mask), head), [-1]), 'rewards');
  const weights = [...names, ...(lora?.adapters ?? [])];
  return { graph: g.build(), weights, trainable: lora ? [...lora.adapters, score] : names };
}
