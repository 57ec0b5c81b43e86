// The graph builder: typed values, shape inference on every op, deduplicated constants, unique names.
import { toAttrs, type AttrInputs } from './attributes.js';
import { onnxDataType, type DType } from './dtype.js';
import { cloneGraph, type Graph, type Node, type ValueType } from './graph.js';
import { inferenceFor, shapeValueFor, type InferContext } from './infer/index.js';
import { NameScope } from './names.js';
import { FRESH_DIM_PREFIX, formatShape, isStatic, type Dim, type Shape } from './shape.js';
import { sameBytes, scalarTensor, tensor, tensorKey, tensorValues, type TensorData } from './tensor.js';

/** A tensor in a graph under construction: its name, dtype and (possibly symbolic) shape. */
export class Value implements ValueType {
  constructor(readonly name: string, readonly dtype: DType, readonly shape: Shape) {}

  get rank(): number {
    return this.shape.length;
  }

  toString(): string {
    return `${this.name}: ${this.dtype}${formatShape(this.shape)}`;
  }
}

/** A value, a value name, or a JS number (a scalar constant in the dtype of the op's other operand). */
export type Operand = Value | string | number;

export interface OpOptions {
  /** Number of outputs, or their exact names. */
  outputs?: number | string[];
  /** Hint for generated output names (default: the op type in lower case). */
  name?: string;
  domain?: string;
  /** Output types for ops without an inference function (custom domains). */
  types?: ValueType[];
}

export class GraphBuilder {
  private readonly g: Graph;
  private readonly names = new NameScope();
  private readonly consts = new Map<string, TensorData>();
  private readonly shapeValues = new Map<string, Dim[]>();
  private readonly constByKey = new Map<string, string[]>();
  private freshDims = 0;

  constructor(name: string, opts: { opset?: number } = {}) {
    this.g = {
      name, inputs: [], outputs: [], initializers: new Map(), nodes: [], values: new Map(), opset: opts.opset ?? 21,
    };
  }

  /** A builder extending a copy of `graph` (the original is left untouched). */
  static from(graph: Graph): GraphBuilder {
    const b = new GraphBuilder(graph.name, { opset: graph.opset });
    const g = cloneGraph(graph);
    Object.assign(b.g, g);
    for (const name of g.values.keys()) b.names.reserve(name);
    for (const n of g.nodes) if (n.name) b.names.reserve(n.name);
    for (const [name, t] of g.initializers) b.noteConstant(name, t);
    for (const n of g.nodes) {
      const a = n.attrs.value;
      if (n.opType === 'Constant' && a?.kind === 'tensor') b.noteConstant(n.outputs[0]!, a.value);
      else b.noteShapeValue(n);
    }
    for (const d of g.values.values()) {
      for (const dim of d.shape) {
        if (typeof dim === 'string' && dim.startsWith(FRESH_DIM_PREFIX)) {
          b.freshDims = Math.max(b.freshDims, Number(dim.slice(FRESH_DIM_PREFIX.length)) + 1 || 0);
        }
      }
    }
    return b;
  }

  get opset(): number {
    return this.g.opset;
  }

  /** The live graph (read it; mutate only through the builder). */
  get graph(): Readonly<Graph> {
    return this.g;
  }

  /** A snapshot of the graph built so far. */
  build(): Graph {
    for (const o of this.g.outputs) if (!this.g.values.has(o)) throw new Error(`graph output ${o} is not a value of graph ${this.g.name}`);
    return cloneGraph(this.g);
  }

  // ---- values -------------------------------------------------------------------------------

  /** A graph input (trainable weights are inputs too, so they can be fed as views of one buffer). */
  input(name: string, dtype: DType, shape: Shape): Value {
    this.claim(name, 'input');
    this.g.inputs.push(name);
    return this.define(name, { dtype, shape: [...shape] });
  }

  /** A named initializer: a frozen weight baked into the model. */
  initializer(name: string, t: TensorData): Value {
    this.claim(name, 'initializer');
    this.g.initializers.set(name, t);
    this.noteConstant(name, t);
    return this.define(name, { dtype: t.dtype, shape: [...t.dims] });
  }

  /** A constant; identical constants (dtype, dims, bytes) share one initializer. */
  constant(t: TensorData, hint = 'const'): Value {
    const key = tensorKey(t);
    for (const name of this.constByKey.get(key) ?? []) {
      if (sameBytes(this.consts.get(name)!.data, t.data)) return this.value(name);
    }
    const name = this.names.fresh(hint);
    this.g.initializers.set(name, t);
    this.noteConstant(name, t);
    this.constByKey.set(key, [...(this.constByKey.get(key) ?? []), name]);
    return this.define(name, { dtype: t.dtype, shape: [...t.dims] });
  }

  scalar(value: number, dtype: DType = 'float32'): Value {
    return this.constant(scalarTensor(dtype, value), 'scalar');
  }

  /** 1-D int64 constant (shapes, axes, starts/ends). */
  ints(values: readonly number[]): Value {
    return this.constant(tensor('int64', [values.length], values), 'ints');
  }

  /** A value by name. */
  value(name: string): Value {
    const t = this.g.values.get(name);
    if (!t) throw new Error(`graph ${this.g.name} has no value named ${name}`);
    return new Value(name, t.dtype, t.shape);
  }

  has(name: string): boolean {
    return this.g.values.has(name);
  }

  /** Build-time constant contents of a value, if it is one. */
  constantOf(v: Value | string): TensorData | undefined {
    return this.consts.get(typeof v === 'string' ? v : v.name);
  }

  /** A name nobody uses yet, derived from the hint (reserved on return). */
  uniqueName(hint: string): string {
    return this.names.fresh(hint);
  }

  /** A new unknown dim. */
  freshDim(): string {
    return `${FRESH_DIM_PREFIX}${this.freshDims++}`;
  }

  /** Marks `v` as a graph output, renaming it through Identity when `name` differs. */
  output(v: Value, name?: string): Value {
    let out = v;
    if (name !== undefined && name !== v.name) out = this.op('Identity', [v], {}, { outputs: [name] })[0]!;
    if (this.g.outputs.includes(out.name)) throw new Error(`${out.name} is already an output of graph ${this.g.name}`);
    this.g.outputs.push(out.name);
    return out;
  }

  // ---- nodes --------------------------------------------------------------------------------

  /**
   * Appends a node of any op type; its outputs are typed by the op's inference function. Returns the
   * single output, or an array when `opts.outputs` is given.
   */
  op(opType: string, inputs: readonly (Operand | undefined)[], attrs?: AttrInputs, opts?: OpOptions & { outputs?: undefined }): Value;
  op(opType: string, inputs: readonly (Operand | undefined)[], attrs: AttrInputs | undefined, opts: OpOptions & { outputs: number | string[] }): Value[];
  op(opType: string, inputs: readonly (Operand | undefined)[], attrs?: AttrInputs, opts: OpOptions = {}): Value | Value[] {
    const outs = this.addNode(opType, inputs, attrs, opts);
    return opts.outputs === undefined ? outs[0]! : outs;
  }

  private addNode(opType: string, inputs: readonly (Operand | undefined)[], attrInputs: AttrInputs | undefined, opts: OpOptions): Value[] {
    const dtypeHint = inputs.find((x): x is Value | string => x !== undefined && typeof x !== 'number');
    const hintType = dtypeHint === undefined ? 'float32' : this.typeOf(dtypeHint).dtype;
    const inNames = inputs.map((x) => (x === undefined ? '' : typeof x === 'number' ? this.scalar(x, hintType).name : typeof x === 'string' ? x : x.name));
    for (const n of inNames) if (n && !this.g.values.has(n)) throw new Error(`${opType}: input ${n} is not a value of graph ${this.g.name}`);
    const attrs = toAttrs(attrInputs);
    const numOutputs = Array.isArray(opts.outputs) ? opts.outputs.length : opts.outputs ?? 1;
    const ctx = this.inferContext(opType, inNames, attrs, numOutputs);
    let types: ValueType[];
    if (opts.types) types = opts.types;
    else {
      const fn = inferenceFor(opType);
      if (!fn) throw new Error(`no shape inference for op ${opType}; pass its output types as opts.types`);
      try {
        types = fn(ctx);
      } catch (e) {
        const args = inNames.map((n) => (n ? `${n}: ${this.describe(n)}` : '-')).join(', ');
        throw new Error(`${(e as Error).message} (in ${opType}(${args}))`);
      }
    }
    const hint = opts.name ?? opType.toLowerCase();
    const outNames = Array.isArray(opts.outputs)
      ? opts.outputs.map((n) => (n === '' ? '' : this.claim(n, `${opType} output`)))
      : Array.from({ length: numOutputs }, () => this.names.fresh(hint));
    const node: Node = { opType, inputs: inNames, outputs: outNames, attrs, domain: opts.domain ?? '', name: this.names.fresh(`n_${hint}`) };
    this.g.nodes.push(node);
    outNames.forEach((n, i) => {
      if (n) this.define(n, types[i] ?? types[0]!);
    });
    this.noteShapeValue(node);
    return outNames.map((n, i) => (n ? this.value(n) : new Value('', types[i]?.dtype ?? 'float32', [])));
  }

  /**
   * Gives an existing node an output it did not request (e.g. LayerNormalization's Mean for backward).
   * Returns the existing value when the output is already there.
   */
  ensureOutput(node: Node, index: number, hint: string): Value {
    const existing = node.outputs[index];
    if (existing) return this.value(existing);
    const fn = inferenceFor(node.opType);
    if (!fn) throw new Error(`no shape inference for op ${node.opType}`);
    const types = fn(this.inferContext(node.opType, node.inputs, node.attrs, index + 1));
    while (node.outputs.length <= index) node.outputs.push('');
    const name = this.names.fresh(hint);
    node.outputs[index] = name;
    return this.define(name, types[index]!);
  }

  private inferContext(opType: string, inNames: readonly string[], attrs: Node['attrs'], numOutputs: number): InferContext {
    return {
      opType,
      inputs: inNames.map((n) => (n ? this.g.values.get(n) : undefined)),
      attrs,
      numOutputs,
      opset: this.g.opset,
      constValues: (i) => {
        const t = inNames[i] ? this.consts.get(inNames[i]!) : undefined;
        return t ? tensorValues(t) : undefined;
      },
      shapeValue: (i) => (inNames[i] ? this.shapeValues.get(inNames[i]!) : undefined),
      fresh: () => this.freshDim(),
    };
  }

  private noteConstant(name: string, t: TensorData) {
    this.consts.set(name, t);
    if ((t.dtype === 'int64' || t.dtype === 'int32') && t.dims.length <= 1) this.shapeValues.set(name, tensorValues(t));
  }

  private noteShapeValue(node: Node) {
    const fn = shapeValueFor(node.opType);
    if (!fn || !node.outputs[0]) return;
    const v = fn(this.inferContext(node.opType, node.inputs, node.attrs, node.outputs.length));
    if (v) this.shapeValues.set(node.outputs[0], v);
  }

  private claim(name: string, what: string): string {
    if (this.names.has(name) || this.g.values.has(name)) throw new Error(`${what} name ${name} is already used in graph ${this.g.name}`);
    this.names.reserve(name);
    return name;
  }

  private define(name: string, t: ValueType): Value {
    this.names.reserve(name);
    this.g.values.set(name, t);
    return new Value(name, t.dtype, t.shape);
  }

  private typeOf(x: Value | string): ValueType {
    if (typeof x !== 'string') return x;
    return this.value(x);
  }

  private describe(name: string): string {
    const t = this.g.values.get(name);
    return t ? `${t.dtype}${formatShape(t.shape)}` : '?';
  }

  // ---- conveniences: one method per op juice uses ------------------------------------------------

  matmul(a: Operand, b: Operand): Value { return this.op('MatMul', [a, b]); }
  gemm(a: Operand, b: Operand, c?: Operand, attrs: { transA?: number; transB?: number; alpha?: number; beta?: number } = {}): Value {
    return this.op('Gemm', c === undefined ? [a, b] : [a, b, c], attrs);
  }
  add(a: Operand, b: Operand): Value { return this.op('Add', this.operands(a, b)); }
  sub(a: Operand, b: Operand): Value { return this.op('Sub', this.operands(a, b)); }
  mul(a: Operand, b: Operand): Value { return this.op('Mul', this.operands(a, b)); }
  div(a: Operand, b: Operand): Value { return this.op('Div', this.operands(a, b)); }
  pow(a: Operand, b: Operand): Value { return this.op('Pow', this.operands(a, b)); }
  max(a: Operand, b: Operand): Value { return this.op('Max', this.operands(a, b)); }
  min(a: Operand, b: Operand): Value { return this.op('Min', this.operands(a, b)); }
  equal(a: Operand, b: Operand): Value { return this.op('Equal', this.operands(a, b)); }
  less(a: Operand, b: Operand): Value { return this.op('Less', this.operands(a, b)); }
  greater(a: Operand, b: Operand): Value { return this.op('Greater', this.operands(a, b)); }
  and(a: Operand, b: Operand): Value { return this.op('And', [a, b]); }
  not(a: Operand): Value { return this.op('Not', [a]); }
  neg(a: Operand): Value { return this.op('Neg', [a]); }
  abs(a: Operand): Value { return this.op('Abs', [a]); }
  sqrt(a: Operand): Value { return this.op('Sqrt', [a]); }
  reciprocal(a: Operand): Value { return this.op('Reciprocal', [a]); }
  exp(a: Operand): Value { return this.op('Exp', [a]); }
  log(a: Operand): Value { return this.op('Log', [a]); }
  sigmoid(a: Operand): Value { return this.op('Sigmoid', [a]); }
  tanh(a: Operand): Value { return this.op('Tanh', [a]); }
  erf(a: Operand): Value { return this.op('Erf', [a]); }
  relu(a: Operand): Value { return this.op('Relu', [a]); }
  gelu(a: Operand, approximate: 'none' | 'tanh' = 'none'): Value { return this.op('Gelu', [a], { approximate }); }
  identity(a: Operand): Value { return this.op('Identity', [a]); }
  where(cond: Operand, x: Operand, y: Operand): Value {
    const [xx, yy] = this.operands(x, y);
    return this.op('Where', [cond, xx, yy]);
  }
  cast(a: Operand, to: DType): Value { return this.op('Cast', [a], { to: onnxDataType(to) }); }
  clip(a: Operand, min?: number, max?: number): Value {
    const dt = this.typeOf(a as Value | string).dtype;
    return this.op('Clip', [a, min === undefined ? undefined : this.scalar(min, dt), max === undefined ? undefined : this.scalar(max, dt)]);
  }
  softmax(a: Operand, axis = -1): Value { return this.op('Softmax', [a], { axis }); }
  logSoftmax(a: Operand, axis = -1): Value { return this.op('LogSoftmax', [a], { axis }); }
  /** LayerNormalization with its Mean and InvStdDev outputs (saved for backward). */
  layerNorm(x: Operand, scale: Operand, bias?: Operand, attrs: { axis?: number; epsilon?: number } = {}): [Value, Value, Value] {
    const outs = this.op('LayerNormalization', bias === undefined ? [x, scale] : [x, scale, bias], attrs, { outputs: 3, name: 'layernorm' });
    return [outs[0]!, outs[1]!, outs[2]!];
  }
  reduceSum(a: Operand, axes?: readonly number[], keepdims = true): Value { return this.reduce('ReduceSum', a, axes, keepdims); }
  reduceMean(a: Operand, axes?: readonly number[], keepdims = true): Value { return this.reduce('ReduceMean', a, axes, keepdims); }
  reduceMax(a: Operand, axes?: readonly number[], keepdims = true): Value { return this.reduce('ReduceMax', a, axes, keepdims); }
  reduceSumSquare(a: Operand, axes?: readonly number[], keepdims = true): Value { return this.reduce('ReduceSumSquare', a, axes, keepdims); }
  private reduce(op: string, a: Operand, axes: readonly number[] | undefined, keepdims: boolean): Value {
    return this.op(op, axes === undefined ? [a] : [a, this.ints(axes)], { keepdims: keepdims ? 1 : 0 });
  }
  gather(data: Operand, indices: Operand, axis = 0): Value { return this.op('Gather', [data, indices], { axis }); }
  gatherElements(data: Operand, indices: Operand, axis = 0): Value { return this.op('GatherElements', [data, indices], { axis }); }
  scatterND(data: Operand, indices: Operand, updates: Operand, reduction: 'none' | 'add' = 'none'): Value {
    return this.op('ScatterND', [data, indices, updates], reduction === 'none' ? {} : { reduction });
  }
  scatterElements(data: Operand, indices: Operand, updates: Operand, axis = 0, reduction: 'none' | 'add' = 'none'): Value {
    return this.op('ScatterElements', [data, indices, updates], reduction === 'none' ? { axis } : { axis, reduction });
  }
  /** Reshape to a constant shape (0 copies the input dim, -1 is inferred) or to a shape-valued tensor. */
  reshape(a: Operand, shape: readonly number[] | Value): Value {
    return this.op('Reshape', [a, Array.isArray(shape) ? this.ints(shape) : (shape as Value)]);
  }
  transpose(a: Operand, perm?: readonly number[]): Value { return this.op('Transpose', [a], perm ? { perm } : {}); }
  concat(xs: readonly Operand[], axis: number): Value { return this.op('Concat', xs, { axis }); }
  split(a: Operand, sizes: readonly number[], axis = 0): Value[] {
    return this.op('Split', [a, this.ints(sizes)], { axis }, { outputs: sizes.length });
  }
  slice(a: Operand, starts: readonly number[], ends: readonly number[], axes?: readonly number[], steps?: readonly number[]): Value {
    return this.op('Slice', [a, this.ints(starts), this.ints(ends), axes ? this.ints(axes) : undefined, steps ? this.ints(steps) : undefined]);
  }
  squeeze(a: Operand, axes?: readonly number[]): Value { return this.op('Squeeze', axes ? [a, this.ints(axes)] : [a]); }
  unsqueeze(a: Operand, axes: readonly number[]): Value { return this.op('Unsqueeze', [a, this.ints(axes)]); }
  expand(a: Operand, shape: readonly number[] | Value): Value {
    return this.op('Expand', [a, Array.isArray(shape) ? this.ints(shape) : (shape as Value)]);
  }
  shape(a: Operand, start?: number, end?: number): Value {
    return this.op('Shape', [a], { start, end });
  }
  trilu(a: Operand, upper = true, k?: number): Value {
    return this.op('Trilu', k === undefined ? [a] : [a, this.constant(scalarTensor('int64', k))], { upper: upper ? 1 : 0 });
  }
  cumsum(a: Operand, axis: number, opts: { exclusive?: boolean; reverse?: boolean } = {}): Value {
    return this.op('CumSum', [a, this.constant(scalarTensor('int64', axis))], { exclusive: opts.exclusive ? 1 : 0, reverse: opts.reverse ? 1 : 0 });
  }
  /** Mean (or sum/none) cross-entropy over [N, C, ...] logits; also returns the log-probabilities. */
  softmaxCrossEntropyLoss(scores: Operand, labels: Operand, opts: { ignoreIndex?: number; reduction?: 'mean' | 'sum' | 'none'; weights?: Operand } = {}): [Value, Value] {
    const outs = this.op('SoftmaxCrossEntropyLoss', opts.weights === undefined ? [scores, labels] : [scores, labels, opts.weights], {
      reduction: opts.reduction ?? 'mean', ignore_index: opts.ignoreIndex,
    }, { outputs: 2, name: 'sce' });
    return [outs[0]!, outs[1]!];
  }
  constantOfShape(shape: readonly number[] | Value, value = 0, dtype: DType = 'float32'): Value {
    return this.op('ConstantOfShape', [Array.isArray(shape) ? this.ints(shape) : (shape as Value)], { value: tensor(dtype, [1], [value]) });
  }
  range(start: Operand, limit: Operand, delta: Operand, dtype: DType = 'int64'): Value {
    const s = (x: Operand) => (typeof x === 'number' ? this.constant(scalarTensor(dtype, x)) : x);
    return this.op('Range', [s(start), s(limit), s(delta)]);
  }
  einsum(equation: string, ...xs: Operand[]): Value { return this.op('Einsum', xs, { equation }); }
  topk(a: Operand, k: number, axis = -1, largest = true): [Value, Value] {
    const outs = this.op('TopK', [a, this.ints([k])], { axis, largest: largest ? 1 : 0 }, { outputs: 2 });
    return [outs[0]!, outs[1]!];
  }
  argmax(a: Operand, axis = -1, keepdims = false): Value { return this.op('ArgMax', [a], { axis, keepdims: keepdims ? 1 : 0 }); }

  /** Numbers become scalar constants in the dtype of the other operand. */
  private operands(a: Operand, b: Operand): [Operand, Operand] {
    const dt = typeof a !== 'number' ? this.typeOf(a).dtype : typeof b !== 'number' ? this.typeOf(b).dtype : 'float32';
    const c = (x: Operand) => (typeof x === 'number' ? this.scalar(x, dt) : x);
    return [c(a), c(b)];
  }
}

/** True when every dim is known. */
export function isStaticValue(v: ValueType): boolean {
  return isStatic(v.shape);
}

