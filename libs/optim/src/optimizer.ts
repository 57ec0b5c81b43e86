// Shared machinery of the flat-buffer optimisers: which ranges of the buffer get weight decay, the step
// counter, and exact state snapshots. Subclasses only write the per-element update loop.
import { ParamSet } from './param-set.js';
import type { ParamEntry } from './param-set.js';
import { KernelInstance } from './wasm/runtime.js';

export type OptimizerKind = 'adamw' | 'rmsprop' | 'sgd';
export type Hyperparams = Record<string, number | boolean>;

/** Names of the per-element state buffers an optimiser may keep (all with the parameter buffer's length). */
export type StateBufferName = 'm' | 'v' | 'gAvg';

/**
 * Everything needed to continue a run bit-identically. AdamW: m = exp_avg, v = exp_avg_sq.
 * RMSprop: v = square_avg, m = momentum buffer (if momentum > 0), gAvg = grad_avg (if centered).
 * SGD: m = momentum buffer (if momentum > 0).
 */
export interface OptimizerState {
  kind: OptimizerKind;
  /** Completed optimiser steps. */
  step: number;
  hyperparams: Hyperparams;
  /** Parameters excluded from weight decay; checked on restore so a resumed run decays the same tensors. */
  noDecay: string[];
  /** Length of the flat parameter buffer. */
  length: number;
  m?: Float32Array;
  v?: Float32Array;
  gAvg?: Float32Array;
}

/** Selects tensors that get no weight decay, e.g. norms and biases. */
export type NoDecayPredicate = (name: string, entry: ParamEntry) => boolean;

/** The usual exclusion (as HF Trainer does): biases and every normalisation layer's parameters. */
export const isNormOrBias: NoDecayPredicate = (name) => /(?:^|[._])bias$|norm|(?:^|\.)ln_/i.test(name);

/** A contiguous range of the flat buffer with one weight-decay setting. */
export interface Segment {
  start: number;
  end: number;
  decay: boolean;
}

export interface CommonOptions {
  lr?: number;
  weightDecay?: number;
  /** Tensors for which this returns true get weight decay 0. Only meaningful with a ParamSet. */
  noDecay?: NoDecayPredicate;
  /**
   * Where the per-element loop runs: 'simd' (default: WebAssembly SIMD kernels, state in wasm memory;
   * falls back to 'js' where WebAssembly is missing or the state exceeds 4 GiB) or 'js' (the float64
   * reference loops). AdamW and RMSprop agree between the two to float32 rounding; SGD bit for bit.
   */
  kernel?: KernelChoice;
}

export type KernelChoice = 'simd' | 'js';

/** The kernel instance holding `count` state buffers, or undefined for the JS loops. */
export function kernelFor(kind: string, choice: KernelChoice | undefined, length: number, count: number): KernelInstance | undefined {
  if (choice !== undefined && choice !== 'simd' && choice !== 'js') throw new Error(`${kind} option "kernel" must be 'simd' or 'js', got ${String(choice)}`);
  return choice === 'js' ? undefined : KernelInstance.create(length, count);
}

function buildSegments(target: ParamSet | Float32Array, noDecay?: NoDecayPredicate): { segments: Segment[]; noDecayNames: string[] } {
  if (!(target instanceof ParamSet)) {
    if (noDecay) throw new Error('noDecay needs a ParamSet (tensor names); a bare Float32Array has none');
    return { segments: [{ start: 0, end: target.length, decay: true }], noDecayNames: [] };
  }
  const segments: Segment[] = [];
  const noDecayNames: string[] = [];
  for (const e of target.entries) {
    if (e.size === 0) continue;
    const decay = noDecay ? !noDecay(e.name, e) : true;
    if (!decay) noDecayNames.push(e.name);
    const last = segments[segments.length - 1];
    // Merging only when touching keeps padding out of the loops (padding must stay exactly zero).
    if (last && last.end === e.offset && last.decay === decay) last.end = e.offset + e.size;
    else segments.push({ start: e.offset, end: e.offset + e.size, decay });
  }
  return { segments, noDecayNames };
}

export abstract class FlatOptimizer {
  abstract readonly kind: OptimizerKind;
  /** The parameters updated in place by step(). */
  readonly params: Float32Array;
  protected readonly segments: Segment[];
  protected readonly noDecayNames: string[];
  protected stepCount = 0;

  constructor(target: ParamSet | Float32Array, noDecay?: NoDecayPredicate) {
    this.params = target instanceof ParamSet ? target.data : target;
    const { segments, noDecayNames } = buildSegments(target, noDecay);
    this.segments = segments;
    this.noDecayNames = noDecayNames;
  }

  /** Completed steps (PyTorch's state['step']). */
  get steps(): number {
    return this.stepCount;
  }

  abstract get hyperparams(): Hyperparams;
  protected abstract setHyperparams(h: Hyperparams): void;
  /** The state buffers in use, by name. */
  protected abstract buffers(): Partial<Record<StateBufferName, Float32Array>>;
  protected abstract update(grads: Float32Array, lr: number): void;
  /** Which loop runs the update: 'simd' (WebAssembly kernels) or 'js'. */
  abstract get kernel(): KernelChoice;

  /** One update with `grads` (same layout as the parameters). `lr` overrides the base lr (for schedules). */
  step(grads: Float32Array, lr: number = this.hyperparams.lr as number): void {
    if (grads.length !== this.params.length) {
      throw new Error(`${this.kind}.step: grads has ${grads.length} elements, parameters have ${this.params.length}`);
    }
    if (!Number.isFinite(lr)) throw new Error(`${this.kind}.step: lr must be finite, got ${lr}`);
    this.stepCount += 1;
    this.update(grads, lr);
  }

  /** A snapshot (copies) of the optimiser state. */
  state(): OptimizerState {
    const s: OptimizerState = {
      kind: this.kind,
      step: this.stepCount,
      hyperparams: { ...this.hyperparams },
      noDecay: [...this.noDecayNames],
      length: this.params.length,
    };
    for (const [name, buf] of Object.entries(this.buffers()) as [StateBufferName, Float32Array][]) s[name] = buf.slice();
    return s;
  }

  /** Restores a snapshot, including its hyperparameters (as torch's load_state_dict restores param groups). */
  loadState(s: OptimizerState): void {
    if (s.kind !== this.kind) throw new Error(`cannot load ${s.kind} state into ${this.kind}`);
    if (s.length !== this.params.length) {
      throw new Error(`${this.kind} state is for ${s.length} parameters, this optimiser has ${this.params.length}`);
    }
    const mine = [...this.noDecayNames].sort().join('\n');
    const theirs = [...s.noDecay].sort().join('\n');
    if (mine !== theirs) {
      throw new Error(`${this.kind} state excludes [${s.noDecay.join(', ')}] from weight decay, this optimiser excludes [${this.noDecayNames.join(', ')}]`);
    }
    this.setHyperparams(s.hyperparams);
    const bufs = this.buffers();
    for (const name of ['m', 'v', 'gAvg'] as const) {
      const mineBuf = bufs[name];
      const saved = s[name];
      if (!mineBuf && !saved) continue;
      if (!mineBuf || !saved) throw new Error(`${this.kind} state buffer "${name}" is ${saved ? 'unexpected' : 'missing'} for these hyperparameters`);
      if (saved.length !== mineBuf.length) throw new Error(`${this.kind} state buffer "${name}" has ${saved.length} elements, expected ${mineBuf.length}`);
      mineBuf.set(saved);
    }
    if (!Number.isInteger(s.step) || s.step < 0) throw new Error(`${this.kind} state step must be a non-negative integer, got ${s.step}`);
    this.stepCount = s.step;
  }
}

export function numberParam(h: Hyperparams, key: string, kind: string): number {
  const x = h[key];
  if (typeof x !== 'number' || !Number.isFinite(x)) throw new Error(`${kind} hyperparameter "${key}" must be a finite number, got ${String(x)}`);
  return x;
}
