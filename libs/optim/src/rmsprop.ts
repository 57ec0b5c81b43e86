// torch.optim.RMSprop (maximize=False): weight decay is L2 (added to the gradient), as in torch.
//   g += wd*p;  v = a*v + (1-a)*g²;  [centered: gAvg = a*gAvg + (1-a)*g; avg = sqrt(v - gAvg²)] else avg = sqrt(v)
//   momentum: buf = mu*buf + g/(avg+eps); p -= lr*buf      else: p -= lr*g/(avg+eps)
import { FlatOptimizer, kernelFor, numberParam } from './optimizer.js';
import type { CommonOptions, Hyperparams, KernelChoice, NoDecayPredicate } from './optimizer.js';
import type { KernelInstance } from './wasm/runtime.js';
import type { ParamSet } from './param-set.js';

export interface RMSpropOptions extends CommonOptions {
  /** Default 1e-2 (torch). */
  lr?: number;
  /** Smoothing constant, default 0.99. */
  alpha?: number;
  /** Default 1e-8. */
  eps?: number;
  /** L2 penalty, default 0. */
  weightDecay?: number;
  /** Default 0 (no momentum buffer). */
  momentum?: number;
  /** Default false. */
  centered?: boolean;
  noDecay?: NoDecayPredicate;
}

export class RMSprop extends FlatOptimizer {
  readonly kind = 'rmsprop' as const;
  lr: number;
  alpha: number;
  eps: number;
  weightDecay: number;
  readonly momentum: number;
  readonly centered: boolean;
  private readonly v: Float32Array;
  private readonly m: Float32Array | undefined;
  private readonly gAvg: Float32Array | undefined;
  private readonly simd: KernelInstance | undefined;

  constructor(target: ParamSet | Float32Array, options: RMSpropOptions = {}) {
    super(target, options.noDecay);
    this.lr = options.lr ?? 1e-2;
    this.alpha = options.alpha ?? 0.99;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
    this.momentum = options.momentum ?? 0;
    this.centered = options.centered ?? false;
    // State in the kernel instance: [v, gAvg, m], unused ones left unallocated.
    const n = this.params.length;
    this.simd = kernelFor('rmsprop', options.kernel, n, 1 + (this.centered ? 1 : 0) + (this.momentum > 0 ? 1 : 0));
    const states = this.simd ? [...this.simd.states] : [];
    const next = () => states.shift() ?? new Float32Array(n);
    this.v = next();
    this.gAvg = this.centered ? next() : undefined;
    this.m = this.momentum > 0 ? next() : undefined;
  }

  get kernel(): KernelChoice {
    return this.simd ? 'simd' : 'js';
  }

  get hyperparams(): Hyperparams {
    return { lr: this.lr, alpha: this.alpha, eps: this.eps, weightDecay: this.weightDecay, momentum: this.momentum, centered: this.centered };
  }

  protected setHyperparams(h: Hyperparams): void {
    // momentum/centered decide which buffers exist, so they must match the constructed optimiser.
    if (h.momentum !== this.momentum || h.centered !== this.centered) {
      throw new Error(`rmsprop state has momentum=${String(h.momentum)} centered=${String(h.centered)}, this optimiser has momentum=${this.momentum} centered=${this.centered}`);
    }
    this.lr = numberParam(h, 'lr', 'rmsprop');
    this.alpha = numberParam(h, 'alpha', 'rmsprop');
    this.eps = numberParam(h, 'eps', 'rmsprop');
    this.weightDecay = numberParam(h, 'weightDecay', 'rmsprop');
  }

  protected buffers() {
    const b: { v: Float32Array; m?: Float32Array; gAvg?: Float32Array } = { v: this.v };
    if (this.m) b.m = this.m;
    if (this.gAvg) b.gAvg = this.gAvg;
    return b;
  }

  protected update(grads: Float32Array, lr: number): void {
    const { params: p, v, alpha: a, eps, momentum: mu } = this;
    const c = 1 - a;
    const m = this.m;
    const gAvg = this.gAvg;
    const k = this.simd;
    if (k) {
      const [vAt, second, third] = k.stateAddr;
      const gAt = gAvg ? second! : 0;
      const mAt = m ? (gAvg ? third! : second!) : 0;
      for (const seg of this.segments) {
        const wd = seg.decay ? this.weightDecay : 0;
        const kernel = k.k[`rmsprop_${wd !== 0 ? 1 : 0}${gAvg ? 1 : 0}${m ? 1 : 0}`];
        k.stream(grads, p, seg.start, seg.end, (n, s) => kernel(n, vAt! + 4 * s, gAt + 4 * s, mAt + 4 * s, a, c, eps, wd, lr, mu));
      }
      return;
    }
    for (const seg of this.segments) {
      const wd = seg.decay ? this.weightDecay : 0;
      const end = seg.end;
      for (let i = seg.start; i < end; i++) {
        const g = wd !== 0 ? grads[i] + wd * p[i] : grads[i];
        const vi = a * v[i] + c * g * g;
        v[i] = vi;
        let avg: number;
        if (gAvg) {
          const ga = a * gAvg[i] + c * g;
          gAvg[i] = ga;
          avg = Math.sqrt(vi - ga * ga) + eps;
        } else {
          avg = Math.sqrt(vi) + eps;
        }
        if (m) {
          const bi = mu * m[i] + g / avg;
          m[i] = bi;
          p[i] -= lr * bi;
        } else {
          p[i] -= (lr * g) / avg;
        }
      }
    }
  }
}
