// LoRA (PEFT semantics): a target weight W [out, in] is used as W + (α/r)·B·A with A [r, in] and
// B [out, r]; only A and B are trained, B starts at zero so the adapted model starts equal to the base.
// The sum is formed in the graph (one small MatMul per adapted weight), so the backbones need no LoRA
// code and the gradient reaches A and B through the ordinary MatMul rule.
import type { GraphBuilder, Value } from '@juice/onnx';
import { ParamSet } from '@juice/optim';
import { architectureModule } from './architectures/registry.js';
import { parameterShapes, type ModelConfig } from './config.js';
import { gaussian } from './init.js';

export interface LoraSpec {
  rank: number;
  /** Scale numerator α; the update is (α / rank)·B·A. */
  alpha: number;
  /** HF module-name suffixes, e.g. ["q_proj", "v_proj"]; empty = the architecture's attention projections. */
  targetModules?: readonly string[];
}

export function defaultLoraTargets(c: ModelConfig): string[] {
  return architectureModule(c.architecture).defaultLoraTargets(c);
}

/** The adapted base weights and their PEFT adapter tensor names. */
export function loraTargets(c: ModelConfig, spec: LoraSpec): { weight: string; a: string; b: string; shape: [number, number] }[] {
  const targets = spec.targetModules?.length ? spec.targetModules : defaultLoraTargets(c);
  return parameterShapes(c)
    .filter((p) => p.name.endsWith('.weight') && p.shape.length === 2 && !p.name.includes('embed') && targets.some((t) => p.name.slice(0, -'.weight'.length).endsWith(t)))
    .map((p) => {
      const module = p.name.slice(0, -'.weight'.length);
      return { weight: p.name, a: `base_model.model.${module}.lora_A.weight`, b: `base_model.model.${module}.lora_B.weight`, shape: p.shape as [number, number] };
    });
}

export function loraParameterShapes(c: ModelConfig, spec: LoraSpec): { name: string; shape: number[] }[] {
  return loraTargets(c, spec).flatMap((t) => [
    { name: t.a, shape: [spec.rank, t.shape[1]] },
    { name: t.b, shape: [t.shape[0], spec.rank] },
  ]);
}

/** Fresh adapters: A ~ U(−1/√in, 1/√in)-like Gaussian scale (PEFT's kaiming init), B = 0. */
export function initLora(c: ModelConfig, spec: LoraSpec, seed = 0): ParamSet {
  const params = new ParamSet(loraParameterShapes(c, spec));
  const rand = gaussian(seed);
  for (const t of loraTargets(c, spec)) {
    const a = params.view(t.a);
    const std = 1 / Math.sqrt(t.shape[1]);
    for (let i = 0; i < a.length; i++) a[i] = rand() * std;
  }
  return params;
}

/**
 * Wraps a weight accessor so adapted weights read as W + (α/r)·B·A; adds the adapter inputs to the
 * graph. Returns the accessor and the adapter input names (what to train).
 */
export function withLora(g: GraphBuilder, c: ModelConfig, spec: LoraSpec, w: (name: string) => Value, dtype: 'float32' | 'float64'): { w: (name: string) => Value; adapters: string[] } {
  const targets = new Map(loraTargets(c, spec).map((t) => [t.weight, t]));
  const cache = new Map<string, Value>();
  const adapters: string[] = [];
  for (const t of targets.values()) {
    g.input(t.a, dtype, [spec.rank, t.shape[1]]);
    g.input(t.b, dtype, [t.shape[0], spec.rank]);
    adapters.push(t.a, t.b);
  }
  const scale = spec.alpha / spec.rank;
  return {
    adapters,
    w: (name: string) => {
      const t = targets.get(name);
      if (!t) return w(name);
      let v = cache.get(name);
      if (!v) {
        v = g.add(w(name), g.mul(g.matmul(g.value(t.b), g.value(t.a)), g.scalar(scale, dtype)));
        cache.set(name, v);
      }
      return v;
    },
  };
}

/** Merged weights for export: W + (α/r)·B·A for every adapted tensor (a new ParamSet; inputs untouched). */
export function mergeLora(c: ModelConfig, base: ParamSet, adapters: ParamSet, spec: LoraSpec): ParamSet {
  const merged = base.clone();
  const scale = spec.alpha / spec.rank;
  for (const t of loraTargets(c, spec)) {
    const [out, inn] = t.shape;
    const W = merged.view(t.weight);
    const A = adapters.view(t.a);
    const B = adapters.view(t.b);
    for (let o = 0; o < out; o++) {
      for (let k = 0; k < spec.rank; k++) {
        const bo = B[o * spec.rank + k]! * scale;
        if (bo === 0) continue;
        for (let i = 0; i < inn; i++) W[o * inn + i]! += bo * A[k * inn + i]!;
      }
    }
  }
  return merged;
}
