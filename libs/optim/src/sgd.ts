// torch.optim.SGD: g += wd*p; with momentum the buffer starts as g on the first step, then
// buf = mu*buf + (1-dampening)*g; nesterov uses g + mu*buf. p -= lr*g.
import { FlatOptimizer, kernelFor, numberParam } from './optimizer.js';
import type { CommonOptions, Hyperparams, KernelChoice, NoDecayPredicate } from './optimizer.js';
import type { KernelInstance } from './wasm/runtime.js';
import type { ParamSet } from './param-set.js';

export interface SGDOptions extends CommonOptions {
  /** Default 1e-3 (torch). */
  lr?: number;
  /** Default 0 (no momentum buffer). */
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  /** L2 penalty, default 0. */
  weightDecay?: number;
  noDecay?: NoDecayPredicate;
}

export class SGD extends FlatOptimizer {
  readonly kind = 'sgd' as const;
  lr: number;
  readonly momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
  private readonly m: Float32Array | undefined;
  private readonly simd: KernelInstance | undefined;

  constructor(target: ParamSet | Float32Array, options: SGDOptions = {}) {
    super(target, options.noDecay);
    this.lr = options.lr ?? 1e-3;
    this.momentum = options.momentum ?? 0;
    this.dampening = options.dampening ?? 0;
    this.nesterov = options.nesterov ?? false;
    this.weightDecay = options.weightDecay ?? 0;
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new Error('SGD nesterov needs momentum > 0 and dampening = 0');
    }
    this.simd = kernelFor('sgd', options.kernel, this.params.length, this.momentum > 0 ? 1 : 0);
    this.m = this.momentum > 0 ? (this.simd?.states[0] ?? new Float32Array(this.params.length)) : undefined;
  }

  get kernel(): KernelChoice {
    return this.simd ? 'simd' : 'js';
  }

  get hyperparams(): Hyperparams {
    return { lr: this.lr, momentum: this.momentum, dampening: this.dampening, nesterov: this.nesterov, weightDecay: this.weightDecay };
  }

  protected setHyperparams(h: Hyperparams): void {
    if (h.momentum !== this.momentum) {
      throw new Error(`sgd state has momentum=${String(h.momentum)}, this optimiser has momentum=${this.momentum}`);
    }
    this.lr = numberParam(h, 'lr', 'sgd');
    this.dampening = numberParam(h, 'dampening', 'sgd');
    this.nesterov = h.nesterov === true;
    this.weightDecay = numberParam(h, 'weightDecay', 'sgd');
  }

  protected buffers() {
    return this.m ? { m: this.m } : {};
  }

  protected update(grads: Float32Array, lr: number): void {
    const { params: p, momentum: mu, nesterov } = this;
    const m = this.m;
    const first = this.stepCount === 1;
    const keep = 1 - this.dampening;
    const k = this.simd;
    if (k) {
      const mAt = m ? k.stateAddr[0]! : 0;
      const mom = m ? (first ? 1 : 2) : 0;
      for (const seg of this.segments) {
        const wd = seg.decay ? this.weightDecay : 0;
        const kernel = k.k[`sgd_${wd !== 0 ? 1 : 0}${mom}${m && nesterov ? 1 : 0}`];
        k.stream(grads, p, seg.start, seg.end, (n, s) => kernel(n, mAt + 4 * s, wd, mu, keep, lr));
      }
      return;
    }
    for (const seg of this.segments) {
      const wd = seg.decay ? this.weightDecay : 0;
      const end = seg.end;
      for (let i = seg.start; i < end; i++) {
        let g = wd !== 0 ? grads[i] + wd * p[i] : grads[i];
        if (m) {
          const b = first ? g : mu * m[i] + keep * g;
          m[i] = b;
          g = nesterov ? g + mu * b : b;
        }
        p[i] -= lr * g;
      }
    }
  }
}
