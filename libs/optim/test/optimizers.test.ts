// Optimisers against (1) PyTorch float32 traces in golden/golden.json (make_golden.py) and (2) float64
// formulas written out here per element, independent of the implementation's loop structure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { AdamW, RMSprop, SGD, ParamSet, isNormOrBias, clipGradNorm, globalGradNorm } from '../src/index.js';
import type { FlatOptimizer } from '../src/index.js';

interface Golden {
  w0: number[];
  b0: number[];
  grads: { w: number[]; b: number[] }[];
  lrs: number[];
  optimizers: Record<string, { options: Record<string, unknown>; trace: { w: number[]; b: number[] }[] }>;
  clip: { maxNorm: number; norm: number; clipped: number[][] };
}
const golden = JSON.parse(readFileSync(new URL('./golden/golden.json', import.meta.url), 'utf8')) as Golden;

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rtol = 1e-6, atol = 1e-7): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    assert.ok(Math.abs(a - e) <= atol + rtol * Math.abs(e), `${what}[${i}]: got ${a}, expected ${e}`);
  }
}

function modelParams(): ParamSet {
  // alignment 4 puts padding after "w" (6 -> 8), so the test also checks padding is left alone.
  const ps = new ParamSet({ w: [2, 3], b: [3] }, { alignment: 4 });
  ps.set('w', golden.w0);
  ps.set('b', golden.b0);
  return ps;
}

function gradsAt(ps: ParamSet, t: number): Float32Array {
  const g = ps.gradBuffer();
  ps.set('w', golden.grads[t].w, g);
  ps.set('b', golden.grads[t].b, g);
  return g;
}

function runGolden(name: string, make: (ps: ParamSet) => FlatOptimizer): void {
  const ps = modelParams();
  const opt = make(ps);
  golden.optimizers[name].trace.forEach((expected, t) => {
    opt.step(gradsAt(ps, t), golden.lrs[t]);
    close(ps.view('w'), expected.w, `${name} step ${t + 1} w`);
    close(ps.view('b'), expected.b, `${name} step ${t + 1} b`);
  });
  assert.deepEqual([ps.data[6], ps.data[7]], [0, 0], 'padding stays zero');
  assert.equal(opt.steps, golden.lrs.length);
}

const noDecayB = (name: string) => name === 'b';

test('AdamW matches torch.optim.AdamW (per-group weight decay)', () => {
  runGolden('adamw', (ps) => new AdamW(ps, { betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.1, noDecay: noDecayB }));
  runGolden('adamw_betas', (ps) => new AdamW(ps, { betas: [0.8, 0.95], eps: 1e-6, weightDecay: 0.3, noDecay: noDecayB }));
});

test('RMSprop matches torch.optim.RMSprop (plain; momentum + centered + L2)', () => {
  runGolden('rmsprop', (ps) => new RMSprop(ps, { alpha: 0.99, eps: 1e-8 }));
  runGolden('rmsprop_momentum_centered', (ps) => new RMSprop(ps, { alpha: 0.9, eps: 1e-6, momentum: 0.8, centered: true, weightDecay: 0.05, noDecay: noDecayB }));
});

test('SGD with nesterov momentum matches torch.optim.SGD', () => {
  runGolden('sgd_nesterov', (ps) => new SGD(ps, { momentum: 0.9, nesterov: true, weightDecay: 0.01, noDecay: noDecayB }));
});

test('AdamW matches a float64 hand reference', () => {
  const p0 = [0.3, -0.7, 1.5, 0.02, -2.0];
  const lr = 0.05, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.2;
  const grad = (t: number, i: number) => Math.fround(Math.cos(t * 0.9 + i) * (i + 1) * 0.3);
  const ref = [...p0];
  const m = [0, 0, 0, 0, 0];
  const v = [0, 0, 0, 0, 0];
  const p = new Float32Array(p0);
  const opt = new AdamW(p, { lr, betas: [b1, b2], eps, weightDecay: wd });
  for (let t = 1; t <= 5; t++) {
    const g = new Float32Array(p0.length);
    for (let i = 0; i < p0.length; i++) {
      g[i] = grad(t, i);
      ref[i] = ref[i] - lr * wd * ref[i];
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      const mHat = m[i] / (1 - b1 ** t);
      const vHat = v[i] / (1 - b2 ** t);
      ref[i] = ref[i] - lr * mHat / (Math.sqrt(vHat) + eps);
    }
    opt.step(g);
    close(p, ref, `AdamW f64 step ${t}`);
  }
});

test('RMSprop matches a float64 hand reference', () => {
  const p0 = [0.3, -0.7, 1.5, 0.02, -2.0];
  const lr = 0.01, alpha = 0.99, eps = 1e-8;
  const ref = [...p0];
  const sq = [0, 0, 0, 0, 0];
  const p = new Float32Array(p0);
  const opt = new RMSprop(p, { lr });
  for (let t = 1; t <= 5; t++) {
    const g = new Float32Array(p0.length);
    for (let i = 0; i < p0.length; i++) {
      g[i] = Math.fround(Math.sin(t * 1.7 - i) * 0.5);
      sq[i] = alpha * sq[i] + (1 - alpha) * g[i] * g[i];
      ref[i] = ref[i] - lr * g[i] / (Math.sqrt(sq[i]) + eps);
    }
    opt.step(g);
    close(p, ref, `RMSprop f64 step ${t}`);
  }
});

test('isNormOrBias picks norms and biases of HF names', () => {
  for (const n of ['model.norm.weight', 'model.layers.0.input_layernorm.weight', 'gpt_neox.final_layer_norm.bias', 'h.0.attn.c_attn.bias', 'transformer.ln_f.weight']) {
    assert.ok(isNormOrBias(n, { name: n, offset: 0, size: 1, shape: [1] }), n);
  }
  for (const n of ['model.layers.0.self_attn.q_proj.weight', 'model.embed_tokens.weight', 'lm_head.weight']) {
    assert.ok(!isNormOrBias(n, { name: n, offset: 0, size: 1, shape: [1] }), n);
  }
});

test('clipGradNorm matches torch clip_grad_norm_ and returns the pre-clip norm', () => {
  const g = [new Float32Array(golden.grads[0].w), new Float32Array(golden.grads[0].b)];
  const norm = clipGradNorm(g, golden.clip.maxNorm);
  close([norm], [golden.clip.norm], 'norm');
  close(g[0], golden.clip.clipped[0], 'clipped w');
  close(g[1], golden.clip.clipped[1], 'clipped b');
  const small = new Float32Array([0.1, 0.2]);
  assert.ok(Math.abs(clipGradNorm(small, 10) - Math.hypot(0.1, 0.2)) < 1e-7);
  assert.deepEqual([...small], [Math.fround(0.1), Math.fround(0.2)], 'under the limit: untouched');
  const bad = new Float32Array([1, NaN]);
  assert.ok(Number.isNaN(clipGradNorm(bad, 1)));
  assert.equal(bad[0], 1, 'non-finite norm leaves grads for the caller to skip');
  assert.equal(globalGradNorm(new Float32Array([3, 4, 12])), 13);
});

test('optimisers reject mismatched gradient buffers with a clear error', () => {
  const opt = new AdamW(new Float32Array(4));
  assert.throws(() => opt.step(new Float32Array(3)), /grads has 3 elements, parameters have 4/);
  assert.throws(() => new AdamW(new Float32Array(4), { noDecay: () => true }), /needs a ParamSet/);
});
