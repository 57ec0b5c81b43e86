// What a gradient rule sees: the forward node's values, the incoming gradients, and helpers that emit
// shape tensors and zeros as cheaply as the static shape allows.
import {
  attrFloat, attrInt, attrInts, attrString, isStatic, tensor, tensorValues as tensorNumbers,
  type DType, type GraphBuilder, type Node, type Value,
} from '@juice/onnx';

export class GradContext {
  constructor(
    readonly g: GraphBuilder,
    readonly node: Node,
    private readonly outGrads: readonly (Value | undefined)[],
    private readonly wanted: readonly boolean[],
  ) {}

  /** Forward input i. */
  x(i: number): Value {
    const name = this.node.inputs[i];
    if (!name) throw new Error(`${this.node.opType} ${this.node.name}: input ${i} is absent`);
    return this.g.value(name);
  }

  hasInput(i: number): boolean {
    return !!this.node.inputs[i];
  }

  /** Forward output i (a saved activation). */
  y(i = 0): Value {
    const name = this.node.outputs[i];
    if (!name) throw new Error(`${this.node.opType} ${this.node.name}: output ${i} is absent`);
    return this.g.value(name);
  }

  /** Forward output i, added to the node if the forward graph did not ask for it. */
  saved(i: number, hint: string): Value {
    return this.g.ensureOutput(this.node, i, hint);
  }

  /** Gradient of the loss w.r.t. output i, or undefined when no path leads from it to the loss. */
  dy(i = 0): Value | undefined {
    return this.outGrads[i];
  }

  /** Gradient w.r.t. output i, zeros when it has none. */
  dyOrZeros(i: number): Value {
    return this.outGrads[i] ?? this.zerosLike(this.y(i));
  }

  /** Whether input i needs a gradient (it lies on a path from a wrt input and is floating point). */
  wants(i: number): boolean {
    return this.wanted[i] ?? false;
  }

  int(name: string, dflt: number): number { return attrInt(this.node.attrs, name, dflt); }
  float(name: string, dflt: number): number { return attrFloat(this.node.attrs, name, dflt); }
  ints(name: string): number[] | undefined { return attrInts(this.node.attrs, name); }
  str(name: string, dflt: string): string { return attrString(this.node.attrs, name, dflt); }

  /** Constant values of input i, or throws naming the rule's need. */
  constInput(i: number, what: string): number[] {
    const t = this.hasInput(i) ? this.g.constantOf(this.node.inputs[i]!) : undefined;
    if (!t) throw new Error(`gradient of ${this.node.opType} (${this.node.name}): ${what} must be a constant`);
    return Array.from(tensorNumbers(t));
  }

  /** Constant values of input i when it is a build-time constant. */
  maybeConstInput(i: number): number[] | undefined {
    const t = this.hasInput(i) ? this.g.constantOf(this.node.inputs[i]!) : undefined;
    return t ? Array.from(tensorNumbers(t)) : undefined;
  }

  /** Scalar constant in v's dtype. */
  scalar(v: Value | DType, n: number): Value {
    return this.g.scalar(n, typeof v === 'string' ? v : v.dtype);
  }

  /** 1-D int64 shape of v: a constant when static, else Shape(v). */
  shapeOf(v: Value): Value {
    return shapeTensor(this.g, v);
  }

  zerosLike(v: Value): Value {
    return filledLike(this.g, v, 0);
  }

  onesLike(v: Value): Value {
    return filledLike(this.g, v, 1);
  }
}

/** 1-D int64 shape of v: a constant when static, else Shape(v). */
export function shapeTensor(g: GraphBuilder, v: Value): Value {
  return isStatic(v.shape) ? g.ints(v.shape) : g.shape(v);
}

/** A tensor shaped like v filled with `n` (ConstantOfShape: no big initializer in the model). */
export function filledLike(g: GraphBuilder, v: Value, n: number): Value {
  return g.op('ConstantOfShape', [shapeTensor(g, v)], { value: tensor(v.dtype, [1], [n]) }, { name: n === 0 ? 'zeros' : 'filled' });
}
