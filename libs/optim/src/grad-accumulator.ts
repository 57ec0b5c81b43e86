// Sums micro-batch gradients into one buffer so a large batch can run as several small forward/backward
// passes. Weights let micro-batches of unequal size (tokens) average correctly.
import type { ParamSet } from './param-set.js';

export class GradAccumulator {
  /** The running weighted sum; after finalize(), the weighted mean. Same layout as the parameters. */
  readonly buffer: Float32Array;
  private totalWeight = 0;
  private added = 0;
  private finalized = false;

  constructor(layout: ParamSet | number) {
    this.buffer = new Float32Array(typeof layout === 'number' ? layout : layout.length);
  }

  /** Micro-batches added since the last reset. */
  get count(): number {
    return this.added;
  }

  get weight(): number {
    return this.totalWeight;
  }

  /** Adds `weight * grad` (weight e.g. the micro-batch's token count; default 1). */
  add(grad: Float32Array, weight = 1): void {
    if (this.finalized) throw new Error('GradAccumulator: call reset() after finalize() before adding again');
    if (grad.length !== this.buffer.length) {
      throw new Error(`GradAccumulator.add: grad has ${grad.length} elements, expected ${this.buffer.length}`);
    }
    if (!(weight >= 0) || !Number.isFinite(weight)) throw new Error(`GradAccumulator.add: weight must be finite and >= 0, got ${weight}`);
    const b = this.buffer;
    const n = b.length;
    if (this.added === 0) {
      for (let i = 0; i < n; i++) b[i] = weight * grad[i];
    } else if (weight === 1) {
      for (let i = 0; i < n; i++) b[i] += grad[i];
    } else {
      for (let i = 0; i < n; i++) b[i] += weight * grad[i];
    }
    this.totalWeight += weight;
    this.added += 1;
  }

  /** Turns the sum into the weighted mean, in place, and returns the buffer. */
  finalize(): Float32Array {
    if (this.finalized) return this.buffer;
    if (this.added === 0 || this.totalWeight === 0) throw new Error('GradAccumulator.finalize: nothing (or only zero weight) was added');
    const inv = 1 / this.totalWeight;
    const b = this.buffer;
    if (inv !== 1) for (let i = 0; i < b.length; i++) b[i] *= inv;
    this.finalized = true;
    return b;
  }

  /** Starts a new accumulation; the buffer is overwritten by the next add(). */
  reset(): void {
    this.totalWeight = 0;
    this.added = 0;
    this.finalized = false;
  }
}
