// The optimisers' per-element loops as WebAssembly SIMD kernels, generated at load time (encoder.ts).
//
// Memory layout of one kernel instance (runtime.ts): two scratch regions of CHUNK float32 at byte 0
// ("p") and CHUNK·4 ("g") through which the caller streams parameters and gradients, followed by the
// optimiser's own state buffers (m, v, gAvg), which live in wasm memory for the optimiser's lifetime.
// A kernel call handles one chunk: scratch element k pairs with state element k of the chunk, whose
// byte addresses the caller passes. Kernels process ceil(n/8)·8 elements: lanes past n compute on stale
// scratch values that are never copied out, and state buffers are padded to a multiple of 8.
//
// Precision. AdamW and RMSprop run in float32 lanes (f32x4), as torch's CPU kernels do: their sqrt and
// division in float64 would make them compute-bound at ~2.5x the memory time. Their results agree
// with the float64-intermediate JS loops (kept in ../adamw.ts, ../rmsprop.ts) to float32 rounding (a
// few ulp per step; tested). Decoupled weight decay is applied as p − p·(lr·wd), not p·(1 − lr·wd): in
// float32 the rounding of 1 − 1e-5 would bias the decay rate by up to 0.3 %.
// SGD and the clipping scale are cheap per element, so they run in f64x2 lanes exactly like the JS
// loops (promote, the same IEEE operations in the same order, demote): bit-identical.
import { encodeModule, FnBuilder } from './encoder.js';

/** Elements per chunk: two 32 KiB scratch regions, well inside L2 with the state lines streaming past. */
export const CHUNK = 8192;
/** Bytes before the first state buffer. */
export const SCRATCH_BYTES = 2 * CHUNK * 4;
const P = 0;
const G = CHUNK * 4;

type Flag = 0 | 1;
type AdamWKernel = (n: number, m: number, v: number, b1: number, b2: number, c1: number, c2: number, stepSize: number, invBc2Sqrt: number, eps: number, lrWd: number) => void;
type RMSpropKernel = (n: number, v: number, gAvg: number, m: number, a: number, c: number, eps: number, wd: number, lr: number, mu: number) => void;
type SGDKernel = (n: number, m: number, wd: number, mu: number, keep: number, lr: number) => void;
/**
 * adamw_{decay}(n, mAddr, vAddr, b1, b2, 1 − b1, 1 − b2, stepSize, invBc2Sqrt, eps, lr·wd);
 * rmsprop_{wd}{centered}{momentum}(n, vAddr, gAvgAddr, mAddr, alpha, 1 − alpha, eps, wd, lr, mu);
 * sgd_{wd}{momentum: 0 none, 1 first step, 2 later}{nesterov}(n, mAddr, wd, mu, 1 − dampening, lr);
 * sumsq(n): Σ g² over scratch g[0, n) in float64 (n a multiple of 8; the caller zero-pads);
 * scale(n, s): g = float32(g · s) over scratch g[0, n), in float64 like the JS loop.
 */
export type KernelExports = { [K in `adamw_${Flag}`]: AdamWKernel } & { [K in `rmsprop_${Flag}${Flag}${Flag}`]: RMSpropKernel } & {
  [K in `sgd_${Flag}${0 | 1 | 2}${Flag}`]: SGDKernel;
} & { sumsq(n: number): number; scale(n: number, s: number): void };

/**
 * One kernel: `setup` declares its locals (splatting scalar parameters once), `body(delta)` emits the
 * work for the 16 bytes at scratch byte i + delta; the loop runs two bodies (32 bytes) per iteration.
 * Locals 0 and i are the element count and the scratch byte index.
 */
function kernel(params: ('i32' | 'f64')[], setup: (f: FnBuilder, i: number) => (delta: number) => void): FnBuilder {
  const f = new FnBuilder(params, []);
  const i = f.local('i32');
  const end = f.local('i32');
  const body = setup(f, i);
  f.get(0).i32(7).i32Add().i32(-8).i32And().i32(2).i32Shl().set(end);
  f.i32(0).set(i);
  f.block(() =>
    f.loop(() => {
      f.get(i).get(end).i32GeU().brIf(1);
      body(0);
      body(16);
      f.get(i).i32(32).i32Add().set(i);
      f.br(0);
    }),
  );
  return f;
}

/** float32 lanes: scalar f64 parameter → f32x4 local. */
function splat32(f: FnBuilder, param: number): number {
  const l = f.local('v128');
  f.get(param).f32DemoteF64().f32x4Splat().set(l);
  return l;
}
function splat64(f: FnBuilder, param: number): number {
  const l = f.local('v128');
  f.get(param).f64x2Splat().set(l);
  return l;
}

function adamw(decay: Flag): FnBuilder {
  return kernel(['i32', 'i32', 'i32', 'f64', 'f64', 'f64', 'f64', 'f64', 'f64', 'f64', 'f64'], (f, i) => {
    const [b1, b2, c1, c2, stepSize, invBc2, eps, lrWd] = [3, 4, 5, 6, 7, 8, 9, 10].map((p) => splat32(f, p)) as number[] as [number, number, number, number, number, number, number, number];
    const g = f.local('v128');
    const m = f.local('v128');
    const v = f.local('v128');
    const p = f.local('v128');
    const mAt = (_d: number) => f.get(1).get(i).i32Add();
    const vAt = (_d: number) => f.get(2).get(i).i32Add();
    return (d) => {
      f.get(i).v128Load(G + d).set(g);
      // m = b1·m + c1·g;  v = b2·v + (c2·g)·g
      mAt(d).v128Load(d).get(b1).f32x4Mul().get(c1).get(g).f32x4Mul().f32x4Add().set(m);
      vAt(d).v128Load(d).get(b2).f32x4Mul().get(c2).get(g).f32x4Mul().get(g).f32x4Mul().f32x4Add().set(v);
      mAt(d).get(m).v128Store(d);
      vAt(d).get(v).v128Store(d);
      // p = p − p·(lr·wd) − (stepSize·m) / (sqrt(v)·invBc2Sqrt + eps)
      f.get(i).v128Load(P + d).set(p);
      if (decay) f.get(p).get(p).get(lrWd).f32x4Mul().f32x4Sub().set(p);
      f.get(i);
      f.get(p).get(stepSize).get(m).f32x4Mul().get(v).f32x4Sqrt().get(invBc2).f32x4Mul().get(eps).f32x4Add().f32x4Div().f32x4Sub();
      f.v128Store(P + d);
    };
  });
}

function rmsprop(wd: Flag, centered: Flag, mom: Flag): FnBuilder {
  return kernel(['i32', 'i32', 'i32', 'i32', 'f64', 'f64', 'f64', 'f64', 'f64', 'f64'], (f, i) => {
    const [a, c, eps, wdS, lr, mu] = [4, 5, 6, 7, 8, 9].map((p) => splat32(f, p)) as [number, number, number, number, number, number];
    const g = f.local('v128');
    const v = f.local('v128');
    const ga = f.local('v128');
    const avg = f.local('v128');
    const b = f.local('v128');
    const at = (ptr: number) => f.get(ptr).get(i).i32Add();
    return (d) => {
      // g = grad + wd·p (L2, only where decay applies: as torch, grad.add(p, alpha=wd))
      f.get(i).v128Load(G + d);
      if (wd) f.get(i).v128Load(P + d).get(wdS).f32x4Mul().f32x4Add();
      f.set(g);
      // v = a·v + (c·g)·g
      at(1).v128Load(d).get(a).f32x4Mul().get(c).get(g).f32x4Mul().get(g).f32x4Mul().f32x4Add().set(v);
      at(1).get(v).v128Store(d);
      if (centered) {
        at(2).v128Load(d).get(a).f32x4Mul().get(c).get(g).f32x4Mul().f32x4Add().set(ga);
        at(2).get(ga).v128Store(d);
        f.get(v).get(ga).get(ga).f32x4Mul().f32x4Sub().f32x4Sqrt().get(eps).f32x4Add().set(avg);
      } else {
        f.get(v).f32x4Sqrt().get(eps).f32x4Add().set(avg);
      }
      f.get(i);
      if (mom) {
        // b = mu·b + g/avg;  p = p − lr·b
        at(3).v128Load(d).get(mu).f32x4Mul().get(g).get(avg).f32x4Div().f32x4Add().set(b);
        at(3).get(b).v128Store(d);
        f.get(i).v128Load(P + d).get(lr).get(b).f32x4Mul().f32x4Sub();
      } else {
        // p = p − (lr·g)/avg
        f.get(i).v128Load(P + d).get(lr).get(g).f32x4Mul().get(avg).f32x4Div().f32x4Sub();
      }
      f.v128Store(P + d);
    };
  });
}

/** f64x2 lanes over two float32 at a time: exactly the JS loop's arithmetic. */
function sgd(wd: Flag, mom: 0 | 1 | 2, nesterov: Flag): FnBuilder {
  return kernel(['i32', 'i32', 'f64', 'f64', 'f64', 'f64'], (f, i) => {
    const [wdS, mu, keep, lr] = [2, 3, 4, 5].map((p) => splat64(f, p)) as [number, number, number, number];
    const g = f.local('v128');
    const b = f.local('v128');
    const half = (d: number) => {
      const load = (base: number) => f.get(i).load64Zero(base + d).promoteLow();
      const mAt = () => f.get(1).get(i).i32Add();
      load(G);
      if (wd) f.get(wdS).pipe(() => load(P)).f64x2Mul().f64x2Add();
      f.set(g);
      if (mom) {
        // b = first step ? g : mu·b + (1 − dampening)·g;  g = nesterov ? g + mu·b : b
        if (mom === 1) f.get(g).set(b);
        else f.get(mu).pipe(() => mAt().load64Zero(d).promoteLow()).f64x2Mul().get(keep).get(g).f64x2Mul().f64x2Add().set(b);
        mAt().get(b).demoteZero().store64Lane0(d);
        if (nesterov) f.get(g).get(mu).get(b).f64x2Mul().f64x2Add().set(g);
        else f.get(b).set(g);
      }
      f.get(i).pipe(() => load(P)).get(lr).get(g).f64x2Mul().f64x2Sub().demoteZero().store64Lane0(P + d);
    };
    return (d) => {
      half(d);
      half(d + 8);
    };
  });
}

/**
 * Σ g² with four f64x2 accumulators (8 elements in flight: the adds' latency would otherwise bound the
 * loop), combined in a fixed order: the result depends only on the data and the chunking.
 */
function sumsq(): FnBuilder {
  const f = new FnBuilder(['i32'], ['f64']);
  const i = f.local('i32');
  const end = f.local('i32');
  const acc = [f.local('v128'), f.local('v128'), f.local('v128'), f.local('v128')];
  const x = f.local('v128');
  f.get(0).i32(2).i32Shl().set(end);
  f.i32(0).set(i);
  f.block(() =>
    f.loop(() => {
      f.get(i).get(end).i32GeU().brIf(1);
      acc.forEach((a, k) => {
        f.get(i).load64Zero(G + 8 * k).promoteLow().set(x);
        f.get(a).get(x).get(x).f64x2Mul().f64x2Add().set(a);
      });
      f.get(i).i32(32).i32Add().set(i);
      f.br(0);
    }),
  );
  f.get(acc[0]!).get(acc[1]!).f64x2Add().get(acc[2]!).get(acc[3]!).f64x2Add().f64x2Add().set(x);
  f.get(x).f64x2Extract(0).get(x).f64x2Extract(1).f64Add();
  return f;
}

function scale(): FnBuilder {
  return kernel(['i32', 'f64'], (f, i) => {
    const s = splat64(f, 1);
    return (d) => {
      for (const h of [0, 8]) f.get(i).get(i).load64Zero(G + d + h).promoteLow().get(s).f64x2Mul().demoteZero().store64Lane0(G + d + h);
    };
  });
}

/** The module's bytes: every kernel over an imported memory "env"."memory" of at least one page. */
export function buildKernelModule(): Uint8Array {
  const functions: { name: string; fn: FnBuilder }[] = [];
  for (const d of [0, 1] as const) functions.push({ name: `adamw_${d}`, fn: adamw(d) });
  for (const wd of [0, 1] as const) for (const c of [0, 1] as const) for (const m of [0, 1] as const) functions.push({ name: `rmsprop_${wd}${c}${m}`, fn: rmsprop(wd, c, m) });
  for (const wd of [0, 1] as const) for (const m of [0, 1, 2] as const) for (const n of [0, 1] as const) functions.push({ name: `sgd_${wd}${m}${n}`, fn: sgd(wd, m, n) });
  functions.push({ name: 'sumsq', fn: sumsq() }, { name: 'scale', fn: scale() });
  return encodeModule({ memory: { import: true, minPages: 1 }, functions });
}
