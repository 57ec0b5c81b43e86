// Rotary position embeddings with Hugging Face's `rope_scaling` variants (transformers 4.57
// modeling_rope_utils: linear, dynamic NTK, llama3, yarn), as config parsing plus the cos/sin tables.
//
// Every variant except `dynamic` only changes the inverse frequencies (and, for yarn, a factor on cos
// and sin), so those are computed here once in float64 and baked into the graph as a constant.
// `dynamic` depends on the sequence length: transformers recomputes inv_freq from
// seq_len = max(position_ids) + 1 whenever that exceeds max_position_embeddings. juice does the same
// inside the graph, from the positions it is given, per batch row: a row's seq_len is its own largest
// position + 1. So the training forward and prefill of a sequence use its full length, and a decode
// step at position t uses t + 1 for the new token (keys already in the cache keep the rotation they
// were cached with), which is what transformers does for one sequence from a freshly loaded model.
// In a padded batch each row gets the tables it would get alone (transformers takes one max over the
// whole batch, and keeps the grown inv_freq across calls until a sequence shorter than the original
// length resets it; juice has no such state).
import type { GraphBuilder, Value } from '@juice/onnx';
import { ModelLoadError } from './errors.js';

export type RopeScaling =
  | { type: 'linear'; factor: number }
  /** `originalMaxPositions` is accepted and written back but, as in transformers, unused: dynamic NTK scales from max_position_embeddings. */
  | { type: 'dynamic'; factor: number; originalMaxPositions?: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number }
  | {
      type: 'yarn';
      factor: number;
      attentionFactor?: number;
      betaFast?: number;
      betaSlow?: number;
      mscale?: number;
      mscaleAllDim?: number;
      originalMaxPositions?: number;
      truncate?: boolean;
    };

export type RopeType = RopeScaling['type'];

type Json = Record<string, unknown>;

/** Sub-keys each type accepts besides `type` / `rope_type` (transformers' ROPE_VALIDATION_FUNCTIONS). */
const KEYS: Record<RopeType | 'default', { required: string[]; optional: string[] }> = {
  default: { required: [], optional: [] },
  linear: { required: ['factor'], optional: [] },
  dynamic: { required: ['factor'], optional: ['original_max_position_embeddings'] },
  llama3: { required: ['factor', 'original_max_position_embeddings', 'low_freq_factor', 'high_freq_factor'], optional: [] },
  yarn: { required: ['factor'], optional: ['attention_factor', 'beta_fast', 'beta_slow', 'original_max_position_embeddings', 'mscale', 'mscale_all_dim', 'truncate'] },
};

function invalid(message: string): ModelLoadError {
  return new ModelLoadError('INVALID_ARGUMENT', message);
}

/**
 * Reads config.json's `rope_scaling` (undefined when absent, null or of type "default"). Refuses
 * unknown types (longrope included), unknown sub-keys and values transformers could not use.
 */
export function parseRopeScaling(raw: unknown, source = 'config.json'): RopeScaling | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw invalid(`${source}: "rope_scaling" must be an object, got ${JSON.stringify(raw)}`);
  const rs = raw as Json;
  // transformers' configs copy a legacy "type" over "rope_type"; two different names would be ambiguous.
  if (rs.type !== undefined && rs.rope_type !== undefined && rs.type !== rs.rope_type) {
    throw invalid(`${source}: rope_scaling "type" ${JSON.stringify(rs.type)} and "rope_type" ${JSON.stringify(rs.rope_type)} disagree`);
  }
  const typeKey = rs.rope_type !== undefined ? 'rope_type' : 'type';
  const type = rs[typeKey];
  if (type === undefined) throw invalid(`${source}: rope_scaling needs "rope_type" (or "type")`);
  if (typeof type !== 'string' || !Object.hasOwn(KEYS, type)) {
    throw invalid(`${source}: rope_scaling "${typeKey}" ${JSON.stringify(type)} is not supported (supported: ${Object.keys(KEYS).join(', ')})`);
  }
  const spec = KEYS[type as keyof typeof KEYS];
  for (const key of Object.keys(rs)) {
    if (key === 'type' || key === 'rope_type') continue;
    if (!spec.required.includes(key) && !spec.optional.includes(key)) {
      throw invalid(`${source}: rope_scaling key "${key}" is not supported for rope_type "${type}"${spec.required.length + spec.optional.length ? ` (accepted: ${[...spec.required, ...spec.optional].join(', ')})` : ''}`);
    }
  }
  for (const key of spec.required) if (rs[key] === undefined || rs[key] === null) throw invalid(`${source}: rope_scaling "${key}" is required for rope_type "${type}"`);

  const num = (key: string, check: (v: number) => boolean, what: string): number | undefined => {
    const v = rs[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || !check(v)) throw invalid(`${source}: rope_scaling "${key}" must be ${what}, got ${JSON.stringify(v)}`);
    return v;
  };
  const positive = (key: string) => num(key, (v) => v > 0, 'a positive number');
  const length = (key: string) => num(key, (v) => Number.isInteger(v) && v > 0, 'a positive integer');

  switch (type) {
    case 'default':
      return undefined;
    case 'linear':
      return { type, factor: positive('factor')! };
    case 'dynamic': {
      const originalMaxPositions = length('original_max_position_embeddings');
      return { type, factor: positive('factor')!, ...(originalMaxPositions !== undefined ? { originalMaxPositions } : {}) };
    }
    case 'llama3':
      return {
        type,
        factor: positive('factor')!,
        lowFreqFactor: positive('low_freq_factor')!,
        highFreqFactor: positive('high_freq_factor')!,
        originalMaxPositions: length('original_max_position_embeddings')!,
      };
    default: {
      if (rs.truncate !== undefined && typeof rs.truncate !== 'boolean') throw invalid(`${source}: rope_scaling "truncate" must be true or false, got ${JSON.stringify(rs.truncate)}`);
      // beta_fast / beta_slow / mscale* fall back on 0 as on null (transformers reads them with `or`).
      const opt = {
        attentionFactor: num('attention_factor', () => true, 'a number'),
        betaFast: num('beta_fast', (v) => v >= 0, 'a non-negative number'),
        betaSlow: num('beta_slow', (v) => v >= 0, 'a non-negative number'),
        mscale: num('mscale', () => true, 'a number'),
        mscaleAllDim: num('mscale_all_dim', () => true, 'a number'),
        originalMaxPositions: length('original_max_position_embeddings'),
        truncate: rs.truncate as boolean | undefined,
      };
      const out: RopeScaling = { type: 'yarn', factor: positive('factor')! };
      for (const [k, v] of Object.entries(opt)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
      return out;
    }
  }
}

/** The `rope_scaling` object of config.json for a parsed scaling (rope_type plus the keys it was given). */
export function ropeScalingToHf(s: RopeScaling): Json {
  switch (s.type) {
    case 'linear':
      return { rope_type: 'linear', factor: s.factor };
    case 'dynamic':
      return { rope_type: 'dynamic', factor: s.factor, ...(s.originalMaxPositions !== undefined ? { original_max_position_embeddings: s.originalMaxPositions } : {}) };
    case 'llama3':
      return { rope_type: 'llama3', factor: s.factor, low_freq_factor: s.lowFreqFactor, high_freq_factor: s.highFreqFactor, original_max_position_embeddings: s.originalMaxPositions };
    case 'yarn': {
      const names: [keyof typeof s, string][] = [
        ['attentionFactor', 'attention_factor'], ['betaFast', 'beta_fast'], ['betaSlow', 'beta_slow'], ['mscale', 'mscale'],
        ['mscaleAllDim', 'mscale_all_dim'], ['originalMaxPositions', 'original_max_position_embeddings'], ['truncate', 'truncate'],
      ];
      const out: Json = { rope_type: 'yarn', factor: s.factor };
      for (const [k, hf] of names) if (s[k] !== undefined) out[hf] = s[k];
      return out;
    }
  }
}

/** Refusals that depend on the rotary dimension (known once head_dim and rotary_pct are read). */
export function checkRopeScaling(s: RopeScaling | undefined, rotaryDims: number, source = 'config.json'): void {
  // transformers divides by dim − 2 in the dynamic NTK base.
  if (s?.type === 'dynamic' && rotaryDims <= 2) throw invalid(`${source}: rope_scaling "dynamic" needs more than 2 rotary dimensions, got ${rotaryDims}`);
}

export interface RopeFrequencies {
  /** Inverse frequency of each rotary pair, [dim/2]. */
  invFreq: number[];
  /** Factor on cos and sin (yarn's attention_factor / mscale; 1 otherwise). */
  attentionFactor: number;
  /** dynamic only: inv_freq[i] · s^(−2i/(dim−2)) with s = factor·max(seq_len, maxPositions)/maxPositions − (factor − 1). */
  dynamic?: { factor: number; maxPositions: number };
}

/** inv_freq and the cos/sin factor of transformers' _compute_*_parameters, in float64. */
export function ropeFrequencies(dim: number, theta: number, scaling: RopeScaling | undefined, maxPositions: number): RopeFrequencies {
  const half = Math.floor(dim / 2);
  const base = Array.from({ length: half }, (_, i) => 1 / Math.pow(theta, (2 * i) / dim));
  if (!scaling) return { invFreq: base, attentionFactor: 1 };
  switch (scaling.type) {
    case 'linear':
      return { invFreq: base.map((f) => f / scaling.factor), attentionFactor: 1 };
    case 'dynamic':
      // At seq_len ≤ maxPositions, s = 1 and these are the plain frequencies.
      return { invFreq: base, attentionFactor: 1, dynamic: { factor: scaling.factor, maxPositions } };
    case 'llama3':
      return { invFreq: llama3Frequencies(base, scaling), attentionFactor: 1 };
    case 'yarn':
      return yarnFrequencies(dim, theta, base, scaling, maxPositions);
  }
}

function llama3Frequencies(base: number[], s: Extract<RopeScaling, { type: 'llama3' }>): number[] {
  const lowFreqWavelen = s.originalMaxPositions / s.lowFreqFactor;
  const highFreqWavelen = s.originalMaxPositions / s.highFreqFactor;
  return base.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < highFreqWavelen) return f; // high frequencies: unchanged
    if (wavelen > lowFreqWavelen) return f / s.factor; // low frequencies: interpolated by factor
    const smooth = (s.originalMaxPositions / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
    return ((1 - smooth) * f) / s.factor + smooth * f;
  });
}

function yarnFrequencies(dim: number, theta: number, base: number[], s: Extract<RopeScaling, { type: 'yarn' }>, maxPositions: number): RopeFrequencies {
  const original = s.originalMaxPositions || maxPositions;
  const mscaleOf = (scale: number, m = 1) => (scale <= 1 ? 1 : 0.1 * m * Math.log(scale) + 1);
  const attentionFactor = s.attentionFactor ?? (s.mscale && s.mscaleAllDim ? mscaleOf(s.factor, s.mscale) / mscaleOf(s.factor, s.mscaleAllDim) : mscaleOf(s.factor));
  const betaFast = s.betaFast || 32;
  const betaSlow = s.betaSlow || 1;
  // The rotary pair index at which a frequency turns `rotations` times over the original context.
  const correctionDim = (rotations: number) => (dim * Math.log(original / (rotations * 2 * Math.PI))) / (2 * Math.log(theta));
  let low = correctionDim(betaFast);
  let high = correctionDim(betaSlow);
  if (s.truncate !== false) {
    low = Math.floor(low);
    high = Math.ceil(high);
  }
  low = Math.max(low, 0);
  high = Math.min(high, dim - 1);
  if (low === high) high += 0.001; // as transformers: avoids dividing by zero in the ramp
  const invFreq = base.map((f, i) => {
    const ramp = Math.min(1, Math.max(0, (i - low) / (high - low)));
    const extrapolation = 1 - ramp; // weight of the unscaled frequency
    return (f / s.factor) * (1 - extrapolation) + f * extrapolation;
  });
  return { invFreq, attentionFactor };
}

function encode(dtype: 'float32' | 'float64', values: number[]): Uint8Array {
  return new Uint8Array((dtype === 'float32' ? Float32Array.from(values) : Float64Array.from(values)).buffer);
}

/**
 * cos and sin of rotary position embeddings, [B, 1, T, dim] (frequencies repeated over both halves of
 * the rotary dimension, as transformers), from per-token positions [B, T] (int64).
 */
export function ropeCosSin(
  g: GraphBuilder,
  positions: Value,
  dim: number,
  theta: number,
  dtype: 'float32' | 'float64',
  rope?: { ropeScaling?: RopeScaling; maxPositions: number },
): { cos: Value; sin: Value } {
  const f = rope ? ropeFrequencies(dim, theta, rope.ropeScaling, rope.maxPositions) : ropeFrequencies(dim, theta, undefined, 0);
  const half = f.invFreq.length;
  let inv: Value = g.constant({ dtype, dims: [1, 1, half], data: encode(dtype, f.invFreq) }, 'rope_inv_freq');
  const pos = g.cast(positions, dtype); // [B, T]
  if (f.dynamic) {
    const { factor, maxPositions: m } = f.dynamic;
    // Per row: seq_len = max position + 1, never below max_position_embeddings (then s = 1).
    const seqLen = g.max(g.add(g.reduceMax(pos, [1], true), g.scalar(1, dtype)), g.scalar(m, dtype)); // [B, 1]
    const s = g.sub(g.mul(seqLen, g.scalar(factor / m, dtype)), g.scalar(factor - 1, dtype));
    // base·s^(dim/(dim−2)) raised to −2i/dim is inv_freq[i]·s^(−2i/(dim−2)).
    const exponents = Array.from({ length: half }, (_, i) => (-2 * i) / (dim - 2));
    const e = g.constant({ dtype, dims: [1, 1, half], data: encode(dtype, exponents) }, 'rope_dynamic_exponents');
    inv = g.mul(inv, g.pow(g.unsqueeze(s, [2]), e)); // [B, 1, half]
  }
  const freqs = g.mul(g.unsqueeze(pos, [2]), inv); // [B, T, half]
  const emb = g.unsqueeze(g.concat([freqs, freqs], 2), [1]);
  const cos = g.op('Cos', [emb]);
  const sin = g.op('Sin', [emb]);
  if (f.attentionFactor === 1) return { cos, sin };
  const a = g.scalar(f.attentionFactor, dtype);
  return { cos: g.mul(cos, a), sin: g.mul(sin, a) };
}
