// Generation graphs with a KV cache, from the same backbone as training (so decode and the training
// forward agree by construction; a test checks it numerically).
//
// prefill: input_ids, attention_mask [B, T] (right padding) → `logits` [B, V] at each row's last real
//   token, and `present.{i}.key|value` [B, Hkv, T, d] (keys already rotated).
// decode:  input_ids [B, 1], position_ids [B, 1], past_mask [B, P] (1 = a cached position to attend to),
//   `past.{i}.key|value` [B, Hkv, P, d] → `logits` [B, V] and `new.{i}.key|value` [B, Hkv, 1, d].
//   Models with a sliding window (some layer of c.slidingWindows) also take past_positions [B, P]: the
//   position each cached key was computed at, so a sliding layer sees key j iff position_ids − w < past_positions[j].
// The cache is kept by the caller in fixed-capacity buffers: a cached position may hold any FINITE value
// where past_mask is 0 (the additive mask gives it weight 0, but 0 · NaN is NaN, so the runtime keeps unused
// slots zeroed), so rows of different lengths share one batch without copying (RoPE is applied before
// caching, so a key's slot in the cache does not matter).
import { GraphBuilder, type Graph, type Value } from '@juice/onnx';
import { backbone } from '../architectures/registry.js';
import { lastTokenRows, linear, positionsFromMask } from '../layers.js';
import { layerWindow, type ModelConfig } from '../model-config.js';
import { withStackedLora } from '../lora.js';
import { cachedAttention, groupedAttention, layerBiases } from './attention.js';
import type { FloatType } from './types.js';
import { weightInputs } from './weights.js';

export interface GenerationGraphs {
  prefill: Graph;
  decode: Graph;
  weights: string[];
}

/**
 * `multiLora`: every Linear also takes stacked adapter inputs and the per-row column mask
 * `lora_row_mask` ([B·T, S] in prefill, [B, S] in decode; see withStackedLora), so one batch serves
 * rows of different adapters.
 */
export function buildGenerationGraphs(c: ModelConfig, dtype: FloatType = 'float32', o: { multiLora?: boolean } = {}): GenerationGraphs {
  // prefill
  const gp = new GraphBuilder(`${c.architecture}_prefill`);
  const ids = gp.input('input_ids', 'int64', ['B', 'T']);
  const mask = gp.input('attention_mask', 'int64', ['B', 'T']);
  const wp = weightInputs(gp, c, dtype);
  const bias = layerBiases(gp, c, mask, dtype);
  const lp = o.multiLora ? withStackedLora(gp, c, dtype) : undefined;
  const hidden = backbone(lp?.g ?? gp, c, wp.w, ids, positionsFromMask(gp, mask), (i, q, k, v) => {
    gp.output(k, `present.${i}.key`);
    gp.output(v, `present.${i}.value`);
    return groupedAttention(gp, c, q, k, v, bias(i));
  }, dtype);
  lp?.check();
  gp.output(linear(gp, lastTokenRows(gp, hidden, mask), wp.head), 'logits');

  // decode
  const gd = new GraphBuilder(`${c.architecture}_decode`);
  const tok = gd.input('input_ids', 'int64', ['B', 1]);
  const pos = gd.input('position_ids', 'int64', ['B', 1]);
  const pastMask = gd.input('past_mask', 'int64', ['B', 'P']);
  const wd = weightInputs(gd, c, dtype);
  const sliding = Array.from({ length: c.numLayers }, (_, i) => layerWindow(c, i)).some((w) => w !== undefined);
  const pastPositions = sliding ? gd.input('past_positions', 'int64', ['B', 'P']) : undefined;
  // The new token attends to every valid cached position and to itself (cachedAttention); in a sliding
  // layer only to cached keys whose position is above position_ids − w (itself always is).
  const byWindow = new Map<number | undefined, Value>();
  const dbias = (layer: number): Value => {
    const w = layerWindow(c, layer);
    if (!byWindow.has(w)) {
      let past = gd.cast(pastMask, 'bool');
      if (w !== undefined) past = gd.and(past, gd.greater(pastPositions!, gd.sub(pos, gd.constant({ dtype: 'int64', dims: [], data: new Uint8Array(BigInt64Array.of(BigInt(w)).buffer) }, `window_${w}`))));
      const allowed = gd.unsqueeze(past, [1, 2]); // [B, 1, 1, P]
      byWindow.set(w, gd.where(allowed, gd.scalar(0, dtype), gd.scalar(-1e9, dtype)));
    }
    return byWindow.get(w)!;
  };
  const ld = o.multiLora ? withStackedLora(gd, c, dtype) : undefined;
  const dh = backbone(ld?.g ?? gd, c, wd.w, tok, pos, (i, q, k, v) => {
    gd.output(k, `new.${i}.key`);
    gd.output(v, `new.${i}.value`);
    const pk = gd.input(`past.${i}.key`, dtype, ['B', c.numKvHeads, 'P', c.headDim]);
    const pv = gd.input(`past.${i}.value`, dtype, ['B', c.numKvHeads, 'P', c.headDim]);
    return cachedAttention(gd, c, q, pk, pv, k, v, dbias(i));
  }, dtype);
  ld?.check();
  gd.output(linear(gd, dh, wd.head), 'logits');
  return { prefill: gp.build(), decode: gd.build(), weights: wp.names };
}
