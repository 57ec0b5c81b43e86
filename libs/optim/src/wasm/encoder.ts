// A minimal WebAssembly binary encoder: just enough (one memory, functions over i32/f64/v128 locals,
// structured loops, scalar and SIMD opcodes) to emit the optimisers' kernels from TypeScript at load
// time, so the repo needs no .wat toolchain and no prebuilt binary. Opcodes follow the WebAssembly 2.0
// spec (core: §5.4, SIMD: the 0xFD-prefixed table); a wrong one fails validation at `new Module`.

export type ValType = 'i32' | 'f32' | 'f64' | 'v128';
const VALTYPE: Record<ValType, number> = { i32: 0x7f, f32: 0x7d, f64: 0x7c, v128: 0x7b };

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

function utf8(s: string): number[] {
  const b = [...new TextEncoder().encode(s)];
  return [...uleb(b.length), ...b];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

/** Scalar opcodes used by the kernels (core spec numbering). */
const OP = {
  block: 0x02, loop: 0x03, if: 0x04, else: 0x05, end: 0x0b, br: 0x0c, brIf: 0x0d, return: 0x0f,
  localGet: 0x20, localSet: 0x21, localTee: 0x22,
  f32Load: 0x2a, f32Store: 0x38,
  i32Const: 0x41, f64Const: 0x44,
  i32Eqz: 0x45, i32LtU: 0x49, i32GeU: 0x4f,
  i32Add: 0x6a, i32Sub: 0x6b, i32Mul: 0x6c, i32And: 0x71, i32Shl: 0x74,
  f64Add: 0xa0, f64Sub: 0xa1, f64Mul: 0xa2, f64Div: 0xa3, f64Sqrt: 0x9f,
  f64PromoteF32: 0xbb, f32DemoteF64: 0xb6,
} as const;

/** SIMD opcodes (after the 0xFD prefix). */
const SIMD = {
  v128Load: 0x00, v128Store: 0x0b, f32x4Splat: 0x13, f64x2Splat: 0x14, f64x2ExtractLane: 0x21,
  v128Load64Zero: 0x5d, v128Store64Lane: 0x5b, f32x4DemoteF64x2Zero: 0x5e, f64x2PromoteLowF32x4: 0x5f,
  f32x4Sqrt: 0xe3, f32x4Add: 0xe4, f32x4Sub: 0xe5, f32x4Mul: 0xe6, f32x4Div: 0xe7,
  f64x2Sqrt: 0xef, f64x2Add: 0xf0, f64x2Sub: 0xf1, f64x2Mul: 0xf2, f64x2Div: 0xf3,
} as const;

/** Builds one function body; locals are numbered after the parameters in declaration order. */
export class FnBuilder {
  readonly code: number[] = [];
  private readonly localTypes: ValType[] = [];
  private nextLocal: number;

  constructor(readonly params: ValType[], readonly results: ValType[]) {
    this.nextLocal = params.length;
  }

  local(type: ValType): number {
    this.localTypes.push(type);
    return this.nextLocal++;
  }

  private op(...bytes: number[]): this {
    this.code.push(...bytes);
    return this;
  }
  private simd(op: number, ...imm: number[]): this {
    return this.op(0xfd, ...uleb(op), ...imm);
  }

  get(i: number) { return this.op(OP.localGet, ...uleb(i)); }
  set(i: number) { return this.op(OP.localSet, ...uleb(i)); }
  tee(i: number) { return this.op(OP.localTee, ...uleb(i)); }
  i32(n: number) { return this.op(OP.i32Const, ...sleb(n | 0)); }
  f64(x: number) {
    const b = new Uint8Array(new Float64Array([x]).buffer);
    return this.op(OP.f64Const, ...b);
  }
  i32Add() { return this.op(OP.i32Add); }
  i32Sub() { return this.op(OP.i32Sub); }
  i32Shl() { return this.op(OP.i32Shl); }
  i32And() { return this.op(OP.i32And); }
  /** Emits `emit()` inline, so a fluent chain stays readable when an operand takes several ops. */
  pipe(emit: () => unknown) { emit(); return this; }
  i32LtU() { return this.op(OP.i32LtU); }
  i32GeU() { return this.op(OP.i32GeU); }
  i32Eqz() { return this.op(OP.i32Eqz); }
  f64Add() { return this.op(OP.f64Add); }
  f64Mul() { return this.op(OP.f64Mul); }
  f64Sqrt() { return this.op(OP.f64Sqrt); }
  f32Load(offset = 0) { return this.op(OP.f32Load, 2, ...uleb(offset)); }
  f64PromoteF32() { return this.op(OP.f64PromoteF32); }

  /** `block … end` / `loop … end` with empty result type; br depths are the caller's business. */
  block(body: () => void) { this.op(OP.block, 0x40); body(); return this.op(OP.end); }
  loop(body: () => void) { this.op(OP.loop, 0x40); body(); return this.op(OP.end); }
  if(body: () => void, orElse?: () => void) {
    this.op(OP.if, 0x40);
    body();
    if (orElse) { this.op(OP.else); orElse(); }
    return this.op(OP.end);
  }
  br(depth: number) { return this.op(OP.br, ...uleb(depth)); }
  brIf(depth: number) { return this.op(OP.brIf, ...uleb(depth)); }

  v128Load(offset = 0) { return this.simd(SIMD.v128Load, 4, ...uleb(offset)); }
  v128Store(offset = 0) { return this.simd(SIMD.v128Store, 4, ...uleb(offset)); }
  /** Two float32 at [addr + offset] into the low half of a v128 (upper half zero). */
  load64Zero(offset = 0) { return this.simd(SIMD.v128Load64Zero, 3, ...uleb(offset)); }
  /** Stores the low 64 bits (two float32 after a demote) at [addr + offset]. */
  store64Lane0(offset = 0) { return this.simd(SIMD.v128Store64Lane, 3, ...uleb(offset), 0); }
  f32x4Splat() { return this.simd(SIMD.f32x4Splat); }
  f32x4Add() { return this.simd(SIMD.f32x4Add); }
  f32x4Sub() { return this.simd(SIMD.f32x4Sub); }
  f32x4Mul() { return this.simd(SIMD.f32x4Mul); }
  f32x4Div() { return this.simd(SIMD.f32x4Div); }
  f32x4Sqrt() { return this.simd(SIMD.f32x4Sqrt); }
  f32DemoteF64() { return this.op(OP.f32DemoteF64); }
  f64x2Splat() { return this.simd(SIMD.f64x2Splat); }
  f64x2Extract(lane: 0 | 1) { return this.simd(SIMD.f64x2ExtractLane, lane); }
  promoteLow() { return this.simd(SIMD.f64x2PromoteLowF32x4); }
  demoteZero() { return this.simd(SIMD.f32x4DemoteF64x2Zero); }
  f64x2Add() { return this.simd(SIMD.f64x2Add); }
  f64x2Sub() { return this.simd(SIMD.f64x2Sub); }
  f64x2Mul() { return this.simd(SIMD.f64x2Mul); }
  f64x2Div() { return this.simd(SIMD.f64x2Div); }
  f64x2Sqrt() { return this.simd(SIMD.f64x2Sqrt); }

  encode(): number[] {
    const groups: number[][] = [];
    for (let i = 0; i < this.localTypes.length; ) {
      let j = i;
      while (j < this.localTypes.length && this.localTypes[j] === this.localTypes[i]) j++;
      groups.push([...uleb(j - i), VALTYPE[this.localTypes[i]!]]);
      i = j;
    }
    const body = [...vec(groups), ...this.code, OP.end];
    return [...uleb(body.length), ...body];
  }
}

export interface ModuleSpec {
  /** Imported memory "env"."memory" (shared when `shared`, which needs a maximum) or an own exported one. */
  memory: { import: boolean; minPages: number; maxPages?: number; shared?: boolean };
  functions: { name: string; fn: FnBuilder }[];
}

export function encodeModule(spec: ModuleSpec): Uint8Array {
  const types: number[][] = [];
  const typeIndex: number[] = [];
  for (const { fn } of spec.functions) {
    const t = [0x60, ...vec(fn.params.map((p) => [VALTYPE[p]])), ...vec(fn.results.map((r) => [VALTYPE[r]]))];
    let k = types.findIndex((x) => x.length === t.length && x.every((b, i) => b === t[i]));
    if (k < 0) k = types.push(t) - 1;
    typeIndex.push(k);
  }
  const m = spec.memory;
  const limits = m.maxPages === undefined ? [0x00, ...uleb(m.minPages)] : [m.shared ? 0x03 : 0x01, ...uleb(m.minPages), ...uleb(m.maxPages)];
  const bytes = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  bytes.push(...section(1, vec(types)));
  if (m.import) bytes.push(...section(2, vec([[...utf8('env'), ...utf8('memory'), 0x02, ...limits]])));
  bytes.push(...section(3, vec(typeIndex.map((k) => uleb(k)))));
  if (!m.import) bytes.push(...section(5, vec([limits])));
  const exports = spec.functions.map(({ name }, i) => [...utf8(name), 0x00, ...uleb(i)]);
  if (!m.import) exports.push([...utf8('memory'), 0x02, 0x00]);
  bytes.push(...section(7, vec(exports)));
  bytes.push(...section(10, vec(spec.functions.map(({ fn }) => fn.encode()))));
  return new Uint8Array(bytes);
}
