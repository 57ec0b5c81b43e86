// Static and symbolic dimensions, numpy broadcasting, and symbolic products (so Reshape(-1) of
// [B, T, D] to [-1, D] infers [B*T, D] instead of an unknown dim).

/** A dimension: a number when static, a name when symbolic ('B', 'T', 'B*T', or a fresh 'unk__3'). */
export type Dim = number | string;
export type Shape = readonly Dim[];

/** Prefix of dims nobody named: they serialise as unknown (no dim_value, no dim_param). */
export const FRESH_DIM_PREFIX = 'unk__';

export function isStatic(shape: Shape): shape is readonly number[] {
  return shape.every((d) => typeof d === 'number');
}

export function isFreshDim(d: Dim): boolean {
  return typeof d === 'string' && d.startsWith(FRESH_DIM_PREFIX);
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(',')}]`;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Normalises a possibly negative axis against a rank; throws naming the op when out of range. */
export function normAxis(axis: number, rank: number, what = 'axis'): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`${what} ${axis} is out of range for rank ${rank}`);
  return a;
}

/** A product of dims as a number coefficient times a multiset of symbols. */
interface DimProduct { coef: number; syms: string[] }

function toProduct(d: Dim): DimProduct {
  if (typeof d === 'number') return { coef: d, syms: [] };
  if (isFreshDim(d)) return { coef: 1, syms: [d] };
  const coef = { v: 1 };
  const syms: string[] = [];
  for (const part of d.split('*')) {
    const n = Number(part);
    if (part !== '' && Number.isInteger(n)) coef.v *= n;
    else syms.push(part);
  }
  return { coef: coef.v, syms };
}

function fromProduct(p: DimProduct): Dim {
  if (p.syms.length === 0) return p.coef;
  const syms = [...p.syms].sort();
  return (p.coef === 1 ? [] : [String(p.coef)]).concat(syms).join('*');
}

/** Product of dims, symbolic where needed (['B', 'T', 4] -> '4*B*T'). */
export function dimProduct(dims: Shape): Dim {
  const acc: DimProduct = { coef: 1, syms: [] };
  for (const d of dims) {
    const p = toProduct(d);
    acc.coef *= p.coef;
    acc.syms.push(...p.syms);
  }
  return fromProduct(acc);
}

/** a / b when it divides exactly (numbers and symbol multisets); undefined when it cannot be known. */
export function dimDivide(a: Dim, b: Dim): Dim | undefined {
  const pa = toProduct(a);
  const pb = toProduct(b);
  if (pb.coef === 0 || pa.coef % pb.coef !== 0) return undefined;
  const syms = [...pa.syms];
  for (const s of pb.syms) {
    const i = syms.indexOf(s);
    if (i < 0) return undefined;
    syms.splice(i, 1);
  }
  return fromProduct({ coef: pa.coef / pb.coef, syms });
}

/**
 * Numpy broadcasting of shapes. Static 1 stretches; a symbol against a number n > 1 is taken to be n
 * (juice's convention: a symbolic dim is never a broadcast 1 at run time). Two different symbols give
 * `fresh()`.
 */
export function broadcastShapes(shapes: Shape[], fresh: () => string, what = 'broadcast'): Dim[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const k = i - (rank - s.length);
      if (k < 0) continue;
      d = broadcastDim(d, s[k]!, fresh, () => `${what}: shapes ${shapes.map(formatShape).join(' and ')} do not broadcast`);
    }
    out.push(d);
  }
  return out;
}

function broadcastDim(a: Dim, b: Dim, fresh: () => string, err: () => string): Dim {
  if (a === b) return a;
  if (a === 1) return b;
  if (b === 1) return a;
  if (typeof a === 'number' && typeof b === 'number') throw new Error(err());
  if (typeof a === 'number') return a;
  if (typeof b === 'number') return b;
  if (isFreshDim(a)) return b;
  if (isFreshDim(b)) return a;
  return fresh();
}
