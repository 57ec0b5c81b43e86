// All trainable tensors of a model live in ONE flat Float32Array so the optimiser runs a single tight
// loop over it and each tensor can still be fed to ORT zero-copy as a `subarray` view.

export interface ParamSpec {
  name: string;
  shape: readonly number[];
}

export interface ParamEntry {
  readonly name: string;
  /** Element offset of the tensor in the flat buffer (a multiple of the set's alignment). */
  readonly offset: number;
  /** Number of elements (product of the shape). */
  readonly size: number;
  readonly shape: readonly number[];
}

export interface ParamSetOptions {
  /**
   * Offsets are rounded up to a multiple of this many elements. 16 floats = 64 bytes keeps every
   * tensor on its own cache line and SIMD-aligned for ORT's kernels.
   */
  alignment?: number;
}

function sizeOf(name: string, shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new Error(`parameter "${name}": shape [${shape.join(', ')}] must hold non-negative integers`);
    }
    n *= d;
  }
  return n;
}

export class ParamSet {
  /** The parameters; padding between tensors is zero and must stay zero. */
  readonly data: Float32Array;
  readonly entries: readonly ParamEntry[];
  readonly alignment: number;
  /** Sum of tensor sizes, without padding. */
  readonly numParams: number;
  private readonly byName: Map<string, ParamEntry>;

  constructor(specs: readonly ParamSpec[] | Record<string, readonly number[]>, options: ParamSetOptions = {}) {
    const alignment = options.alignment ?? 16;
    if (!Number.isInteger(alignment) || alignment < 1) {
      throw new Error(`ParamSet alignment must be a positive integer number of elements, got ${alignment}`);
    }
    const list: ParamSpec[] = Array.isArray(specs)
      ? [...(specs as readonly ParamSpec[])]
      : Object.entries(specs as Record<string, readonly number[]>).map(([name, shape]) => ({ name, shape }));
    const entries: ParamEntry[] = [];
    const byName = new Map<string, ParamEntry>();
    let offset = 0;
    let numParams = 0;
    for (const { name, shape } of list) {
      if (byName.has(name)) throw new Error(`parameter "${name}" is listed twice`);
      const size = sizeOf(name, shape);
      const entry: ParamEntry = Object.freeze({ name, offset, size, shape: Object.freeze([...shape]) });
      entries.push(entry);
      byName.set(name, entry);
      numParams += size;
      offset += Math.ceil(size / alignment) * alignment;
    }
    this.alignment = alignment;
    this.entries = Object.freeze(entries);
    this.byName = byName;
    this.numParams = numParams;
    this.data = new Float32Array(offset);
  }

  /** Length of the flat buffer including padding: the length of every gradient/state buffer. */
  get length(): number {
    return this.data.length;
  }

  get names(): string[] {
    return this.entries.map((e) => e.name);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  entry(name: string): ParamEntry {
    const e = this.byName.get(name);
    if (!e) {
      const known = this.entries.slice(0, 8).map((x) => x.name).join(', ');
      throw new Error(`unknown parameter "${name}" (known: ${known}${this.entries.length > 8 ? ', …' : ''})`);
    }
    return e;
  }

  /** Zero-copy view of one tensor inside `buffer` (the parameters by default, or a buffer from gradBuffer()). */
  view(name: string, buffer: Float32Array = this.data): Float32Array {
    this.checkBuffer(buffer);
    const e = this.entry(name);
    return buffer.subarray(e.offset, e.offset + e.size);
  }

  /** Views of every tensor, keyed by name: ready to pass as ORT feeds. */
  views(buffer: Float32Array = this.data): Record<string, Float32Array> {
    this.checkBuffer(buffer);
    const out: Record<string, Float32Array> = {};
    for (const e of this.entries) out[e.name] = buffer.subarray(e.offset, e.offset + e.size);
    return out;
  }

  /** A zeroed buffer with the same layout, for gradients or optimiser state. */
  gradBuffer(): Float32Array {
    return new Float32Array(this.data.length);
  }

  /** Copies `values` into the tensor `name` of `buffer`. */
  set(name: string, values: ArrayLike<number>, buffer: Float32Array = this.data): void {
    const view = this.view(name, buffer);
    if (values.length !== view.length) {
      throw new Error(`parameter "${name}" has ${view.length} elements, got ${values.length}`);
    }
    view.set(values);
  }

  /** An independent copy with the same layout and values (e.g. a frozen reference policy). */
  clone(): ParamSet {
    const copy = new ParamSet(this.entries.map((e) => ({ name: e.name, shape: e.shape })), { alignment: this.alignment });
    copy.data.set(this.data);
    return copy;
  }

  /** A copy of one tensor (safe to keep after the flat buffer changes). */
  get(name: string, buffer: Float32Array = this.data): Float32Array {
    return this.view(name, buffer).slice();
  }

  /**
   * Copies named tensors in. With `strict` (default) every parameter must be present and no extra
   * names are allowed, so a checkpoint that does not match the model fails loudly.
   */
  load(tensors: Record<string, ArrayLike<number>>, options: { strict?: boolean; buffer?: Float32Array } = {}): void {
    const strict = options.strict ?? true;
    if (strict) {
      const missing = this.entries.filter((e) => !(e.name in tensors)).map((e) => e.name);
      const extra = Object.keys(tensors).filter((n) => !this.byName.has(n));
      if (missing.length || extra.length) {
        throw new Error(`ParamSet.load: missing [${missing.join(', ')}], unexpected [${extra.join(', ')}]`);
      }
    }
    for (const [name, values] of Object.entries(tensors)) {
      if (this.byName.has(name)) this.set(name, values, options.buffer);
    }
  }

  /** Copies of every tensor, keyed by name. */
  toRecord(buffer: Float32Array = this.data): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = {};
    for (const e of this.entries) out[e.name] = this.get(e.name, buffer);
    return out;
  }

  private checkBuffer(buffer: Float32Array): void {
    if (buffer.length !== this.data.length) {
      throw new Error(`buffer has ${buffer.length} elements but this ParamSet's layout needs ${this.data.length}`);
    }
  }
}
