// Instantiates the SIMD kernels (kernels.ts) over a memory that holds two scratch regions and an
// optimiser's state buffers, and streams parameters and gradients (ordinary arrays owned by the
// caller, e.g. ParamSet.data and the train step's gradient buffer) through the scratch in L2-sized
// chunks: copy in, compute, copy out. The copies hit cache; memory traffic stays that of one pass.
import { buildKernelModule, CHUNK, SCRATCH_BYTES, type KernelExports } from './kernels.js';

// @types/node 20 does not declare the WebAssembly namespace (it lives in lib.dom); the few members used:
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: { env: { memory: WasmMemory } }) => { exports: unknown };
  Memory: new (d: { initial: number; maximum: number }) => WasmMemory;
}
const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

const PAGE = 65536;
/** wasm32 memories stop at 4 GiB (65536 pages); larger states fall back to the JS loops. */
const MAX_PAGES = 65536;

let compiled: object | null | undefined;

/** The compiled module, or null where WebAssembly SIMD is missing (then the JS loops run). */
function kernelModule(): object | null {
  if (compiled === undefined) {
    try {
      compiled = wasm ? new wasm.Module(buildKernelModule()) : null;
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

const ceil8 = (n: number) => (n + 7) & ~7;

export class KernelInstance {
  readonly k: KernelExports;
  /** The state buffers (zeroed), each `length` long, living in this instance's memory. */
  readonly states: Float32Array[];
  /** Byte address of each state buffer. */
  readonly stateAddr: number[];
  private readonly scratchP: Float32Array;
  private readonly scratchG: Float32Array;

  private constructor(module: object, memory: WasmMemory, length: number, count: number) {
    this.k = new wasm!.Instance(module, { env: { memory } }).exports as unknown as KernelExports;
    const buf = memory.buffer;
    this.scratchP = new Float32Array(buf, 0, CHUNK);
    this.scratchG = new Float32Array(buf, CHUNK * 4, CHUNK);
    this.stateAddr = Array.from({ length: count }, (_, s) => SCRATCH_BYTES + s * ceil8(length) * 4);
    this.states = this.stateAddr.map((a) => new Float32Array(buf, a, length));
  }

  /** An instance with `count` state buffers of `length` elements, or undefined when unavailable. */
  static create(length: number, count: number): KernelInstance | undefined {
    const module = kernelModule();
    if (!module) return undefined;
    const pages = Math.ceil((SCRATCH_BYTES + count * ceil8(length) * 4) / PAGE);
    if (pages > MAX_PAGES) return undefined;
    // A fixed size (initial = maximum): the memory never grows, so the state views never detach.
    return new KernelInstance(module, new wasm!.Memory({ initial: pages, maximum: pages }), length, count);
  }

  /**
   * Calls `body(n, s)` for each chunk [s, s + n) of [start, end), with grads (and params, if given)
   * copied into the scratch regions first and params (or, with `gradsOut`, grads) copied back after. Kernels process whole groups
   * of 8, so the state elements just past a ragged chunk (padding or the next segment's) are saved and
   * restored around the call.
   */
  stream(grads: Float32Array, params: Float32Array | undefined, start: number, end: number, body: (n: number, s: number) => void, gradsOut = false): void {
    const { scratchP, scratchG, states } = this;
    for (let s = start; s < end; s += CHUNK) {
      const n = Math.min(CHUNK, end - s);
      scratchG.set(grads.subarray(s, s + n));
      if (params) scratchP.set(params.subarray(s, s + n));
      const ragged = (n & 7) !== 0;
      const saved = ragged ? states.map((st) => st.slice(s + n, s + ceil8(n))) : undefined;
      body(n, s);
      if (saved) saved.forEach((x, j) => states[j]!.set(x, s + n));
      if (params) params.set(n === CHUNK ? scratchP : scratchP.subarray(0, n), s);
      if (gradsOut) grads.set(n === CHUNK ? scratchG : scratchG.subarray(0, n), s);
    }
  }

  /** Σ x² over grads[start, end) in float64; chunked, so the summation order depends on the data only. */
  sumSquares(grads: Float32Array, start = 0, end = grads.length): number {
    const g = this.scratchG;
    let sum = 0;
    for (let s = start; s < end; s += CHUNK) {
      const n = Math.min(CHUNK, end - s);
      g.set(grads.subarray(s, s + n));
      const padded = ceil8(n);
      if (padded > n) g.fill(0, n, padded);
      sum += this.k.sumsq(padded);
    }
    return sum;
  }

  /** grads[start, end) *= s, rounded to float32 exactly as `g[i] *= s` in JS. */
  scale(grads: Float32Array, s: number, start = 0, end = grads.length): void {
    this.stream(grads, undefined, start, end, (n) => this.k.scale(n, s), true);
  }
}
