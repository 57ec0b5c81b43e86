// Typed node attributes. ONNX distinguishes INT from FLOAT, which a JS number cannot: plain numbers are
// typed by the attribute's name (alpha, beta, epsilon... are floats) and otherwise by integrality; wrap
// with floatAttr()/intAttr() to say it explicitly.
import type { TensorData } from './tensor.js';

export type Attr =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'ints'; value: number[] }
  | { kind: 'floats'; value: number[] }
  | { kind: 'strings'; value: string[] }
  | { kind: 'tensor'; value: TensorData };

export type Attrs = Record<string, Attr>;

/** What callers may pass for an attribute. */
export type AttrInput = Attr | number | string | readonly number[] | readonly string[] | TensorData;
export type AttrInputs = Record<string, AttrInput | undefined>;

/** Attributes that are FLOAT in every standard op that has them. */
const FLOAT_ATTRS = new Set(['alpha', 'beta', 'epsilon', 'gamma', 'bias', 'lambd', 'ratio', 'min', 'max', 'threshold', 'seed', 'mean', 'scale', 'momentum', 'spatial_scale', 'value_float', 'delta']);
const FLOATS_ATTRS = new Set(['scales', 'value_floats']);

export function floatAttr(value: number): Attr { return { kind: 'float', value }; }
export function intAttr(value: number): Attr { return { kind: 'int', value }; }
export function floatsAttr(value: number[]): Attr { return { kind: 'floats', value }; }

function isAttr(v: unknown): v is Attr {
  return typeof v === 'object' && v !== null && 'kind' in v && 'value' in v;
}

export function toAttr(name: string, v: AttrInput): Attr {
  if (isAttr(v)) return v;
  if (typeof v === 'number') {
    return FLOAT_ATTRS.has(name) || !Number.isInteger(v) ? { kind: 'float', value: v } : { kind: 'int', value: v };
  }
  if (typeof v === 'string') return { kind: 'string', value: v };
  if (Array.isArray(v)) {
    if (v.length > 0 && typeof v[0] === 'string') return { kind: 'strings', value: [...(v as string[])] };
    const nums = [...(v as number[])];
    return FLOATS_ATTRS.has(name) || nums.some((x) => !Number.isInteger(x)) ? { kind: 'floats', value: nums } : { kind: 'ints', value: nums };
  }
  return { kind: 'tensor', value: v as TensorData };
}

export function toAttrs(inputs: AttrInputs | undefined): Attrs {
  const out: Attrs = {};
  for (const [k, v] of Object.entries(inputs ?? {})) if (v !== undefined) out[k] = toAttr(k, v);
  return out;
}

export function attrInt(attrs: Attrs, name: string, dflt: number): number;
export function attrInt(attrs: Attrs, name: string): number | undefined;
export function attrInt(attrs: Attrs, name: string, dflt?: number): number | undefined {
  const a = attrs[name];
  if (a === undefined) return dflt;
  if (a.kind !== 'int' && a.kind !== 'float') throw new Error(`attribute ${name} is ${a.kind}, expected int`);
  return a.value;
}

export function attrFloat(attrs: Attrs, name: string, dflt: number): number {
  const a = attrs[name];
  if (a === undefined) return dflt;
  if (a.kind !== 'int' && a.kind !== 'float') throw new Error(`attribute ${name} is ${a.kind}, expected float`);
  return a.value;
}

export function attrInts(attrs: Attrs, name: string): number[] | undefined {
  const a = attrs[name];
  if (a === undefined) return undefined;
  if (a.kind !== 'ints') throw new Error(`attribute ${name} is ${a.kind}, expected ints`);
  return a.value;
}

export function attrString(attrs: Attrs, name: string, dflt: string): string {
  const a = attrs[name];
  if (a === undefined) return dflt;
  if (a.kind !== 'string') throw new Error(`attribute ${name} is ${a.kind}, expected string`);
  return a.value;
}

export function formatAttr(a: Attr): string {
  switch (a.kind) {
    case 'int': return String(a.value);
    case 'float': return Number.isInteger(a.value) ? a.value.toFixed(1) : String(a.value);
    case 'string': return JSON.stringify(a.value);
    case 'ints': case 'floats': return `[${a.value.join(',')}]`;
    case 'strings': return `[${a.value.map((s) => JSON.stringify(s)).join(',')}]`;
    case 'tensor': return `tensor<${a.value.dtype}[${a.value.dims.join(',')}]>`;
  }
}
