// Shape/dtype inference: one function per op type, registered by the modules next to this one.
import type { Attrs } from '../attributes.js';
import type { ValueType } from '../graph.js';
import type { Dim } from '../shape.js';

export interface InferContext {
  readonly opType: string;
  /** Types of the inputs; undefined for an omitted optional input. */
  readonly inputs: readonly (ValueType | undefined)[];
  readonly attrs: Attrs;
  readonly numOutputs: number;
  readonly opset: number;
  /** Element values of input i when it is a build-time constant. */
  constValues(i: number): number[] | undefined;
  /** Element values of a 1-D integer input known symbolically (constants, Shape(x), Concat of those...). */
  shapeValue(i: number): Dim[] | undefined;
  /** A new symbolic dim for what cannot be known before run time. */
  fresh(): string;
}

export type InferFn = (ctx: InferContext) => ValueType[];
/** Symbolic element values of output 0 of a shape-computing op (Shape, Concat, Gather...). */
export type ShapeValueFn = (ctx: InferContext) => Dim[] | undefined;

const inferFns = new Map<string, InferFn>();
const shapeValueFns = new Map<string, ShapeValueFn>();

export function registerInference(opTypes: string | readonly string[], fn: InferFn): void {
  for (const t of typeof opTypes === 'string' ? [opTypes] : opTypes) inferFns.set(t, fn);
}

export function registerShapeValue(opTypes: string | readonly string[], fn: ShapeValueFn): void {
  for (const t of typeof opTypes === 'string' ? [opTypes] : opTypes) shapeValueFns.set(t, fn);
}

export function inferenceFor(opType: string): InferFn | undefined {
  return inferFns.get(opType);
}

export function shapeValueFor(opType: string): ShapeValueFn | undefined {
  return shapeValueFns.get(opType);
}

export function hasInference(opType: string): boolean {
  return inferFns.has(opType);
}

/** The input or a readable error naming the op and the input position. */
export function need(ctx: InferContext, i: number): ValueType {
  const t = ctx.inputs[i];
  if (!t) throw new Error(`${ctx.opType}: input ${i} is required`);
  return t;
}
