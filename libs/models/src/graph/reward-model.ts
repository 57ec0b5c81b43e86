// The reward model graph (HF *ForSequenceClassification with one label).
import { GraphBuilder, type Graph } from '@juice/onnx';
import { backbone } from '../architectures/registry.js';
import { lastTokenRows, linear, positionsFromMask } from '../layers.js';
import type { ModelConfig } from '../model-config.js';
import { groupedAttention, layerBiases } from './attention.js';
import type { FloatType } from './types.js';
import { weightInputs } from './weights.js';

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
