// LoRA with PEFT's semantics. A target Linear y = x·Wᵀ (+ b) becomes
//   y = x·Wᵀ (+ b) + lora_B(lora_A(dropout(x)))·scaling,   scaling = α/r (rsLoRA: α/√r),
// with lora_A [r, in] and lora_B [out, r] (PEFT's tensor names and shapes); B starts at zero so the adapted
// model starts equal to the base. The adapter branch is computed on the activations (two thin Gemms), not
// by forming W + s·B·A: so the gradient never forms a [out, in] matrix for a frozen weight, only the
// [N, r] and [r, in] products (autograd differentiates only w.r.t. `trainable`, and the frozen weights
// are not on that list, so their Gemm gets no weight-gradient node at all).
//
// The branch is attached where the backbone applies the weight: the backbone is handed a GraphBuilder
// view whose `gemm` adds the branch when its B operand is a target weight (every architecture applies
// its projections through `linear`, i.e. Gemm with transB). buildLora checks afterwards that every
// target was reached, so a backbone that applies a weight another way fails loudly instead of silently
// training nothing.
import type { GraphBuilder, Value } from '@juice/onnx';
import { ParamSet } from '@juice/optim';
import { architectureModule } from './architectures/registry.js';
import { embeddingNames, parameterShapes, type ModelConfig } from './config.js';

export interface LoraSpec {
  /** Rank r ≥ 1. */
  rank: number;
  /** Scale numerator α; the update is (α / r)·B·A, or (α / √r)·B·A with rsLoRA. */
  alpha: number;
  /** PEFT lora_dropout on the adapter input, in [0, 1); applied only in graphs built for training. */
  dropout?: number;
  /**
   * PEFT target_modules: HF module names, matched as PEFT does (the module's full name equals the entry
   * or ends with "." + entry), or ["all-linear"] (every Linear but the output head). Empty = the
   * architecture's attention projections.
   */
  targetModules?: readonly string[];
  /** rsLoRA (PEFT use_rslora): scaling α/√r instead of α/r. */
  useRslora?: boolean;
}

/** A LoRA setting juice cannot honour; `key` names the PEFT/LoraConfig key. Services answer INVALID_ARGUMENT. */
export class LoraSpecError extends Error {
  readonly grpcCode = 'INVALID_ARGUMENT' as const;
  constructor(readonly key: string, message: string) {
    super(`lora.${key}: ${message}`);
    this.name = 'LoraSpecError';
  }
}

export function defaultLoraTargets(c: ModelConfig): string[] {
  return architectureModule(c.architecture).defaultLoraTargets(c);
}

/** PEFT's scaling: α/r, or α/√r with use_rslora. */
export function loraScaling(spec: LoraSpec): number {
  return spec.useRslora ? spec.alpha / Math.sqrt(spec.rank) : spec.alpha / spec.rank;
}

export function checkLoraSpec(spec: LoraSpec): void {
  if (!Number.isInteger(spec.rank) || spec.rank < 1) throw new LoraSpecError('rank', `must be an integer >= 1, got ${spec.rank}`);
  if (!Number.isFinite(spec.alpha) || spec.alpha < 0) throw new LoraSpecError('alpha', `must be a finite number >= 0, got ${spec.alpha}`);
  const p = spec.dropout ?? 0;
  if (!(p >= 0 && p < 1)) throw new LoraSpecError('dropout', `must be in [0, 1), got ${p}`);
}

export interface LoraTarget {
  /** The adapted base weight (HF tensor name). */
  weight: string;
  /** PEFT module name, e.g. model.layers.0.self_attn.q_proj. */
  module: string;
  /** PEFT tensor names of the adapter. */
  a: string;
  b: string;
  /** The base weight's [out, in]. */
  shape: [number, number];
}

/** PEFT's tensor names of one module's adapter (adapter_model.safetensors; the adapter name is dropped as PEFT does on save). */
export function peftTensorNames(module: string): { a: string; b: string } {
  return { a: `base_model.model.${module}.lora_A.weight`, b: `base_model.model.${module}.lora_B.weight` };
}

/** PEFT's key matching: the full module name equals the target or ends with "." + target. */
function matches(module: string, target: string): boolean {
  return module === target || module.endsWith(`.${target}`);
}

/** The adapted base weights and their PEFT adapter tensor names, in parameter order. Unmatched targets are refused (as PEFT does). */
export function loraTargets(c: ModelConfig, spec: LoraSpec): LoraTarget[] {
  checkLoraSpec(spec);
  const targets = spec.targetModules?.length ? [...spec.targetModules] : defaultLoraTargets(c);
  const { embed, head } = embeddingNames(c);
  const linears = parameterShapes(c).filter((p) => p.name.endsWith('.weight') && p.shape.length === 2 && p.name !== embed);
  const allLinear = targets.length === 1 && targets[0] === 'all-linear';
  if (!allLinear && targets.includes('all-linear')) throw new LoraSpecError('target_modules', '"all-linear" must be the only entry');
  const out: LoraTarget[] = [];
  const used = new Set<string>();
  for (const p of linears) {
    const module = p.name.slice(0, -'.weight'.length);
    const hit = allLinear ? (p.name !== head ? 'all-linear' : undefined) : targets.find((t) => matches(module, t));
    if (!hit) continue;
    if (p.name === head) throw new LoraSpecError('target_modules', `${hit} selects the output head ${module}; adapting the head is not supported (train full parameters or leave it out)`);
    used.add(hit);
    out.push({ weight: p.name, module, ...peftTensorNames(module), shape: p.shape as [number, number] });
  }
  const missing = allLinear ? [] : targets.filter((t) => !used.has(t));
  if (missing.length) throw new LoraSpecError('target_modules', `${missing.map((t) => JSON.stringify(t)).join(', ')} match no Linear module of this ${c.architecture} model (e.g. ${linears.slice(0, 4).map((p) => p.name.slice(0, -7).split('.').pop()).join(', ')})`);
  if (out.length === 0) throw new LoraSpecError('target_modules', 'selects no module');
  return out;
}

export function loraParameterShapes(c: ModelConfig, spec: LoraSpec): { name: string; shape: number[] }[] {
  return loraTargets(c, spec).flatMap((t) => [
    { name: t.a, shape: [spec.rank, t.shape[1]] },
    { name: t.b, shape: [t.shape[0], spec.rank] },
  ]);
}

/** A small seeded uniform generator (mulberry32): adapter init and the trainer's LoRA dropout masks must not depend on Math.random. */
export function seededUniform(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fresh adapters as PEFT makes them: A ~ kaiming_uniform(a=√5) = U(−1/√in, 1/√in), B = 0. */
export function initLora(c: ModelConfig, spec: LoraSpec, seed = 0): ParamSet {
  const params = new ParamSet(loraParameterShapes(c, spec));
  const rand = seededUniform(seed);
  for (const t of loraTargets(c, spec)) {
    const a = params.view(t.a);
    const bound = 1 / Math.sqrt(t.shape[1]);
    for (let i = 0; i < a.length; i++) a[i] = (2 * rand() - 1) * bound;
  }
  return params;
}

export interface LoraGraphOptions {
  /** Apply lora_dropout (training graphs only; inference and reference passes never drop). */
  train?: boolean;
  /**
   * With `train` and dropout > 0: take each target's dropout mask as an input (`loraDropoutInputName(module)`,
   * [N, in], holding 0 or 1/(1 − p)) instead of drawing it in the runtime, so a trainer can draw it from a
   * seeded stream and a resumed job repeats it (loraDropoutInputs lists them).
   */
  dropoutInputs?: boolean;
  /**
   * Add a scalar float input `lora_enabled` multiplying every adapter branch: feed 1 for the adapted
   * model, 0 for the base. One session, one copy of the weights serves both the policy and the
   * DPO/IRFT reference (the base with adapters disabled).
   */
  switchable?: boolean;
}

/** Name of the scalar input that turns the adapters on (1) or off (0) when built `switchable`. */
export const LORA_ENABLED_INPUT = 'lora_enabled';

export interface LoraGraph {
  /** The builder the backbone must be given: its gemm adds the adapter branch on target weights. */
  g: GraphBuilder;
  /** Adapter input names (what to train), A then B per target. */
  adapters: string[];
  /** Throws unless every target weight went through the adapted gemm. Call after the backbone. */
  check(): void;
}

/**
 * A view of `g` for the backbone whose gemm(x, W, transB=1) for a target weight W also adds
 * `branch(g, x, target)`: how adapter branches (trained or stacked for serving) reach every linear() without
 * the backbones knowing about LoRA. `missed()` lists the targets no gemm reached (call after the backbone).
 */
function withLinearBranches(g: GraphBuilder, targets: readonly LoraTarget[], branch: (target: GraphBuilder, x: Value, t: LoraTarget) => Value): { view: GraphBuilder; missed: () => LoraTarget[] } {
  const byWeight = new Map(targets.map((t) => [t.weight, t]));
  const reached = new Set<string>();
  const view = new Proxy(g, {
    get(target, prop) {
      if (prop === 'gemm') {
        return (a: Value, b: Value, bias?: Value, attrs: { transA?: number; transB?: number; alpha?: number; beta?: number } = {}) => {
          const y = target.gemm(a, b, bias, attrs);
          const t = byWeight.get(b.name);
          if (!t || attrs.transB !== 1 || attrs.transA || (attrs.alpha ?? 1) !== 1) return y;
          reached.add(t.weight);
          return target.add(y, branch(target, a, t));
        };
      }
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { view, missed: () => targets.filter((t) => !reached.has(t.weight)) };
}

/**
 * Adds the adapter inputs to `g` and returns a builder view for the backbone that computes each target
 * projection as Gemm(x, W) + ((dropout(x)·Aᵀ)·scaling)·Bᵀ.
 */
export function withLora(g: GraphBuilder, c: ModelConfig, spec: LoraSpec, dtype: 'float32' | 'float64', o: LoraGraphOptions = {}): LoraGraph {
  const targets = loraTargets(c, spec);
  const adapters: string[] = [];
  const inputs = new Map<string, { a: Value; b: Value }>();
  for (const t of targets) {
    inputs.set(t.weight, { a: g.input(t.a, dtype, [spec.rank, t.shape[1]]), b: g.input(t.b, dtype, [t.shape[0], spec.rank]) });
    adapters.push(t.a, t.b);
  }
  let scale = g.scalar(loraScaling(spec), dtype);
  if (o.switchable) scale = g.mul(scale, g.input(LORA_ENABLED_INPUT, dtype, []));
  const p = o.train ? (spec.dropout ?? 0) : 0;
  const dropout = (x: Value, t: LoraTarget): Value => {
    if (p === 0) return x;
    if (o.dropoutInputs) return g.mul(x, g.input(loraDropoutInputName(t.module), dtype, ['N', t.shape[1]]));
    // PEFT's nn.Dropout: keep with probability 1 − p, scale kept values by 1/(1 − p). The mask is drawn by
    // the runtime per run (not reproducible across runs, as in PyTorch without a fixed generator state).
    const keep = g.cast(g.greater(g.op('RandomUniformLike', [x], { dtype: dtype === 'float32' ? 1 : 11 }, { types: [{ dtype, shape: x.shape }] }), g.scalar(p, dtype)), dtype);
    return g.mul(x, g.mul(keep, g.scalar(1 / (1 - p), dtype)));
  };
  const { view, missed } = withLinearBranches(g, targets, (target, x, t) => {
    const { a: A, b: B } = inputs.get(t.weight)!;
    const down = g.mul(target.gemm(dropout(x, t), A, undefined, { transB: 1 }), scale); // [N, r]
    return target.gemm(down, B, undefined, { transB: 1 });
  });
  return {
    g: view,
    adapters,
    check: () => {
      const m = missed().map((t) => t.weight);
      if (m.length) throw new Error(`LoRA: the ${c.architecture} backbone does not apply ${m.slice(0, 3).join(', ')} through linear() (Gemm transB), so no adapter branch was attached`);
    },
  };
}

/** The dropout-mask input of one adapted module (LoraGraphOptions.dropoutInputs). */
export function loraDropoutInputName(module: string): string {
  return `${module}.lora_dropout_mask`;
}

/** The dropout-mask inputs a training graph with dropoutInputs takes: name and width (the module's in features). */
export function loraDropoutInputs(c: ModelConfig, spec: LoraSpec): { name: string; width: number }[] {
  if (!(spec.dropout ?? 0)) return [];
  return loraTargets(c, spec).map((t) => ({ name: loraDropoutInputName(t.module), width: t.shape[1] }));
}

/** Merged weights for export: W + scaling·B·A for every adapted tensor (a new ParamSet; inputs untouched). */
export function mergeLora(c: ModelConfig, base: ParamSet, adapters: ParamSet, spec: LoraSpec): ParamSet {
  const merged = base.clone();
  const scale = loraScaling(spec);
  for (const t of loraTargets(c, spec)) {
    const [out, inn] = t.shape;
    const W = merged.view(t.weight);
    const A = adapters.view(t.a);
    const B = adapters.view(t.b);
    const row = new Float64Array(inn);
    for (let o = 0; o < out; o++) {
      row.fill(0);
      for (let k = 0; k < spec.rank; k++) {
        const bo = B[o * spec.rank + k]!;
        if (bo === 0) continue;
        for (let i = 0; i < inn; i++) row[i]! += bo * A[k * inn + i]!;
      }
      // PEFT's merge: W += (B·A)·scaling, the product accumulated first (float64 here, then rounded once).
      for (let i = 0; i < inn; i++) W[o * inn + i]! += row[i]! * scale;
    }
  }
  return merged;
}

// ---- Serving many adapters in one batch -------------------------------------------------------------
// Every Linear of the generation graphs gets a branch over ALL held adapters at once: the adapters' A
// matrices are concatenated along the rank axis into A_stack [S, in] (S = Σ ranks), their scaled B
// matrices into B_stack [out, S], and a per-row 0/1 mask [N, S] keeps only the columns of the adapter
// the row asked for:  y = x·Wᵀ + ((x·A_stackᵀ) ⊙ mask)·B_stackᵀ.  Masked columns add exact zeros, so a row
// computes exactly its own adapter's x·Aᵀ·(s·B)ᵀ whatever else is in the batch (a dense form of the
// per-row gather multi-LoRA servers use; for a few adapters the extra S columns are cheap next to the
// in×out product). An adapter without some module has zero columns there. S and N are dynamic: adapters
// come and go without rebuilding the graphs.

/** Name of the per-row adapter column mask [N, S] (N = the rows of the Linear inputs: B·T in prefill, B in decode). */
export const LORA_ROW_MASK_INPUT = 'lora_row_mask';

/** The stacked adapter inputs of one adapted module in the serving graphs. */
export function stackedLoraNames(module: string): { a: string; b: string } {
  return { a: `${module}.lora_A_stack`, b: `${module}.lora_B_stack` };
}

/** Every Linear but the head: what the serving graphs give a stacked branch (adapters may target any subset). */
export function servingLoraTargets(c: ModelConfig): LoraTarget[] {
  return loraTargets(c, { rank: 1, alpha: 1, targetModules: ['all-linear'] });
}

/** Adds the stacked-adapter inputs and the row mask to `g`; returns the builder view for the backbone. */
export function withStackedLora(g: GraphBuilder, c: ModelConfig, dtype: 'float32' | 'float64'): { g: GraphBuilder; inputs: string[]; check(): void } {
  const targets = servingLoraTargets(c);
  const mask = g.input(LORA_ROW_MASK_INPUT, dtype, ['N', 'S']);
  const stacks = new Map<string, { a: Value; b: Value }>();
  const inputs: string[] = [LORA_ROW_MASK_INPUT];
  for (const t of targets) {
    const n = stackedLoraNames(t.module);
    stacks.set(t.weight, { a: g.input(n.a, dtype, ['S', t.shape[1]]), b: g.input(n.b, dtype, [t.shape[0], 'S']) });
    inputs.push(n.a, n.b);
  }
  const { view, missed } = withLinearBranches(g, targets, (target, x, t) => {
    const st = stacks.get(t.weight)!;
    const down = g.mul(target.gemm(x, st.a, undefined, { transB: 1 }), mask); // [N, S]
    return target.gemm(down, st.b, undefined, { transB: 1 });
  });
  return {
    g: view,
    inputs,
    check: () => {
      const m = missed();
      if (m.length) throw new Error(`LoRA serving: the ${c.architecture} backbone does not apply ${m[0]!.weight} through linear()`);
    },
  };
}

/** One held adapter: its PEFT tensors and spec. */
export interface HeldAdapter {
  name: string;
  spec: LoraSpec;
  tensors: ReadonlyMap<string, Float32Array>;
}

/**
 * The stacked inputs for a set of adapters (in order) and each adapter's column range. With no
 * adapters, one zero column (S = 1), so the graphs always have a well-formed S.
 */
export function stackAdapters(c: ModelConfig, adapters: readonly HeldAdapter[]): { tensors: Map<string, { data: Float32Array; dims: number[] }>; columns: number; ranges: Map<string, { offset: number; rank: number }> } {
  const ranges = new Map<string, { offset: number; rank: number }>();
  let S = 0;
  for (const a of adapters) {
    ranges.set(a.name, { offset: S, rank: a.spec.rank });
    S += a.spec.rank;
  }
  S = Math.max(S, 1);
  const tensors = new Map<string, { data: Float32Array; dims: number[] }>();
  for (const t of servingLoraTargets(c)) {
    const [out, inn] = t.shape;
    const A = new Float32Array(S * inn);
    const B = new Float32Array(out * S);
    for (const a of adapters) {
      const A0 = a.tensors.get(t.a);
      const B0 = a.tensors.get(t.b);
      if (!A0 || !B0) continue;
      const { offset, rank } = ranges.get(a.name)!;
      const s = loraScaling(a.spec);
      A.set(A0, offset * inn);
      for (let o = 0; o < out; o++) for (let k = 0; k < rank; k++) B[o * S + offset + k] = B0[o * rank + k]! * s;
    }
    const n = stackedLoraNames(t.module);
    tensors.set(n.a, { data: A, dims: [S, inn] });
    tensors.set(n.b, { data: B, dims: [out, S] });
  }
  return { tensors, columns: S, ranges };
}
