// Deterministic initialisation of a fresh model (the embedded default trains from scratch): normal
// weights with std 0.02 (HF's initializer_range), zero biases, unit norm scales — as HF's _init_weights.
import { ParamSet } from '@juice/optim';
import { parameterShapes, type ModelConfig } from './config.js';

/** Gaussian stream from a 32-bit seed (mulberry32 + Box-Muller): the same weights on every machine. */
export function gaussian(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

export function initParameters(c: ModelConfig, seed = 0, std = 0.02): ParamSet {
  const params = new ParamSet(parameterShapes(c));
  const rand = gaussian(seed);
  for (const e of params.entries) {
    const v = params.view(e.name);
    if (e.name.endsWith('norm.weight') || e.name.endsWith('layernorm.weight') || e.name.endsWith('layer_norm.weight')) v.fill(1);
    else if (e.name.endsWith('.bias')) v.fill(0);
    else for (let i = 0; i < v.length; i++) v[i] = rand() * std;
  }
  return params;
}
