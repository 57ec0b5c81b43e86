// The WebAssembly SIMD kernels against the float64 JS loops they replace (kernel: 'js'), on a layout
// with ragged tensors (sizes not multiples of the kernels' 8-lane groups), padding, per-tensor weight
// decay and tensors spanning several 8192-element chunks:
// - SGD and clipping: bit for bit;
// - AdamW and RMSprop (float32 lanes, as torch): one step from the same state agrees with the JS loop to
//   a few float32 ulps of the parameter plus those of the update (≥ lr), and the state likewise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdamW, RMSprop, SGD, ParamSet, clipGradNorm, globalGradNorm } from '../src/index.js';
import type { FlatOptimizer } from '../src/index.js';

const SHAPES = { 'a.weight': [3, 7], 'a.bias': [5], 'b.weight': [8192 * 2 + 13], 'norm.weight': [9] };
const noDecay = (n: string) => n.endsWith('bias') || n.startsWith('norm');

function rng(seed: number) {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
}

function layout(seed: number): { ps: ParamSet; grads: Float32Array[] } {
  const r = rng(seed);
  const ps = new ParamSet(SHAPES, { alignment: 4 });
  for (const e of ps.entries) ps.set(e.name, Array.from({ length: e.size }, () => (r() - 0.5) * 0.2));
  // Gradients over ~9 orders of magnitude, some exactly zero (the eps path).
  const grads = Array.from({ length: 4 }, () => {
    const g = ps.gradBuffer();
    for (const e of ps.entries) ps.set(e.name, Array.from({ length: e.size }, () => (r() < 0.02 ? 0 : (r() - 0.5) * Math.exp((r() - 0.5) * 20))), g);
    return g;
  });
  return { ps, grads };
}

function ulp(x: number): number {
  const f = new Float32Array([Math.abs(x)]);
  const bits = new Uint32Array(f.buffer);
  bits[0]! += 1;
  return f[0]! - Math.abs(x);
}

/** Largest |a − b| in units of ulp(a) + ulp(scale) (scale: the step's update, or 0). */
function worstUlps(a: Float32Array, b: Float32Array, scale?: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i]! - b[i]!);
    if (e === 0) continue;
    worst = Math.max(worst, e / (ulp(a[i]!) + ulp(scale ? scale[i]! : 0)));
  }
  return worst;
}

function compareStepwise(name: string, make: (p: ParamSet, kernel: 'simd' | 'js') => FlatOptimizer, maxUlps: number): void {
  const { ps, grads } = layout(7);
  const simdParams = ps.clone();
  const js = make(ps, 'js');
  const simd = make(simdParams, 'simd');
  assert.equal(js.kernel, 'js');
  assert.equal(simd.kernel, 'simd', `${name}: the SIMD kernels are available on Node 20`);
  grads.forEach((g, t) => {
    // From the same state each step: the comparison measures one step's rounding, not drift.
    simdParams.data.set(ps.data);
    const stateBefore = js.state();
    simd.loadState(stateBefore);
    const before = ps.data.slice();
    js.step(g, 1e-3 * (t + 1));
    simd.step(g, 1e-3 * (t + 1));
    // The update's natural size is about lr (Adam's m̂/√v̂ and RMSprop's g/avg are O(1)); a small
    // update is a cancellation (b1·m + c1·g ≈ 0) whose float32 rounding is relative to lr, not to it.
    const lr = 1e-3 * (t + 1);
    const update = ps.data.map((x, i) => Math.abs(x - before[i]!) + lr);
    const w = worstUlps(ps.data, simdParams.data, update);
    assert.ok(w <= maxUlps, `${name} step ${t + 1}: parameters differ by ${w.toFixed(1)} ulps (allowed ${maxUlps})`);
    const sj = js.state();
    const ss = simd.state();
    for (const b of ['m', 'v', 'gAvg'] as const) {
      if (!sj[b]) continue;
      // In ulps of the inputs' size (prev + |g| + |p|, squared terms for v): b1·m + c1·g may cancel.
      const prev = stateBefore[b]!;
      const inputs = prev.map((x, i) => {
        const gi = Math.abs(g[i]!) + Math.abs(before[i]!);
        return Math.abs(x) + (b === 'v' ? gi * gi : gi);
      });
      const wb = worstUlps(sj[b]!, ss[b]!, inputs);
      assert.ok(wb <= 8, `${name} step ${t + 1}: state ${b} differs by ${wb.toFixed(1)} ulps`);
    }
    for (const e of ps.entries) {
      const padEnd = e.offset + Math.ceil(e.size / 4) * 4;
      for (let i = e.offset + e.size; i < padEnd; i++) assert.equal(simdParams.data[i], 0, `${name}: padding after ${e.name} stays zero`);
    }
  });
}

test('AdamW SIMD agrees with the float64 JS loop to float32 rounding, per tensor decay, across chunks', () => {
  compareStepwise('adamw', (p, kernel) => new AdamW(p, { weightDecay: 0.1, noDecay, kernel }), 8);
  compareStepwise('adamw betas', (p, kernel) => new AdamW(p, { betas: [0.8, 0.95], eps: 1e-6, weightDecay: 0.3, noDecay, kernel }), 8);
});

test('RMSprop SIMD agrees with the float64 JS loop to float32 rounding (plain, L2, momentum, centered)', () => {
  compareStepwise('rmsprop', (p, kernel) => new RMSprop(p, { kernel }), 8);
  compareStepwise('rmsprop L2 momentum', (p, kernel) => new RMSprop(p, { weightDecay: 0.1, momentum: 0.9, noDecay, kernel }), 32);
  // Centered: sqrt(v − gAvg²) cancels, which amplifies the inputs' float32 rounding.
  compareStepwise('rmsprop centered', (p, kernel) => new RMSprop(p, { alpha: 0.9, weightDecay: 0.05, momentum: 0.8, centered: true, noDecay, kernel }), 64);
});

test('SGD SIMD is bit-identical to the JS loop (plain, L2, momentum first/later steps, nesterov, dampening)', () => {
  for (const o of [{}, { weightDecay: 0.01 }, { momentum: 0.9 }, { momentum: 0.9, nesterov: true, weightDecay: 0.01 }, { momentum: 0.5, dampening: 0.3 }]) {
    const { ps, grads } = layout(11);
    const other = ps.clone();
    const js = new SGD(ps, { ...o, noDecay, kernel: 'js' });
    const simd = new SGD(other, { ...o, noDecay });
    for (const g of grads) {
      js.step(g, 0.05);
      simd.step(g, 0.05);
      assert.deepEqual(other.data, ps.data, `SGD ${JSON.stringify(o)}`);
      assert.deepEqual(simd.state().m, js.state().m);
    }
  }
});

test('clipping: the norm is the float64 sum to 1e-13 and the scaling is bit-identical to g[i] *= scale', () => {
  const { grads } = layout(3);
  const g = grads[0]!;
  let exact = 0;
  for (const x of g) exact += x * x;
  const norm = globalGradNorm([g, grads[1]!.subarray(0, 100)]);
  let both = exact;
  for (const x of grads[1]!.subarray(0, 100)) both += x * x;
  assert.ok(Math.abs(norm - Math.sqrt(both)) <= 1e-13 * norm, `norm ${norm} vs ${Math.sqrt(both)}`);
  const clipped = g.slice();
  const n = clipGradNorm(clipped, 0.5);
  const s = 0.5 / (n + 1e-6);
  const expected = g.map((x) => x * s);
  assert.deepEqual(clipped, expected);
  assert.ok(Math.abs(globalGradNorm(clipped) - 0.5) < 1e-6);
});

test('the kernel option accepts only simd and js', () => {
  assert.throws(() => new AdamW(new Float32Array(4), { kernel: 'gpu' as never }), /adamw option "kernel" must be 'simd' or 'js', got gpu/);
  assert.throws(() => new RMSprop(new Float32Array(4), { kernel: 'fast' as never }), /rmsprop option "kernel"/);
});
