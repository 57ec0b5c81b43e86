// A minimal ONNX protobuf writer (field numbers from onnx.proto) for the few fixed models the runtime
// builds itself (the matmul peak probe, test fixtures). Graphs of real models come from @juice/onnx;
// this exists so the runtime does not need the graph builder for a one-node model.

export type ElemType = 'float32' | 'int64' | 'int32';
const ELEM_TYPE: Record<ElemType, number> = { float32: 1, int32: 6, int64: 7 };

class ProtoWriter {
  private readonly chunks: number[] = [];

  varint(value: number | bigint): this {
    // Negative int64 values are encoded as 10-byte two's complement, as protobuf requires.
    let v = BigInt.asUintN(64, BigInt(value));
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v !== 0n) byte |= 0x80;
      this.chunks.push(byte);
    } while (v !== 0n);
    return this;
  }

  tag(field: number, wireType: 0 | 1 | 2 | 5): this {
    return this.varint((field << 3) | wireType);
  }

  int(field: number, value: number | bigint): this {
    return this.tag(field, 0).varint(value);
  }

  bytes(field: number, data: Uint8Array): this {
    this.tag(field, 2).varint(data.length);
    for (const b of data) this.chunks.push(b);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  message(field: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  float(field: number, value: number): this {
    this.tag(field, 5);
    const b = new Uint8Array(new Float32Array([value]).buffer);
    for (const x of b) this.chunks.push(x);
    return this;
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

/** A dimension is a fixed size or a symbolic name (dim_param). */
export type Dim = number | string;

export interface ValueInfo {
  name: string;
  type: ElemType;
  shape: readonly Dim[];
}

export interface Initializer {
  name: string;
  type: 'float32';
  dims: readonly number[];
  data: Float32Array;
}

export type AttributeValue = number | number[] | string;

export interface NodeSpec {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  /** Integers are written as INT/INTS, non-integers as FLOAT, strings as STRING. */
  attributes?: Record<string, AttributeValue>;
}

export interface ModelSpec {
  name: string;
  nodes: readonly NodeSpec[];
  inputs: readonly ValueInfo[];
  outputs: readonly ValueInfo[];
  initializers?: readonly Initializer[];
  /** Default 21 (see ENGINE-FACTS: everything composes at 21). */
  opset?: number;
}

function writeValueInfo(w: ProtoWriter, v: ValueInfo): void {
  w.string(1, v.name).message(2, (type) =>
    type.message(1, (tensor) =>
      tensor.int(1, ELEM_TYPE[v.type]).message(2, (shape) => {
        for (const d of v.shape) shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
      }),
    ),
  );
}

function writeAttribute(w: ProtoWriter, name: string, value: AttributeValue): void {
  w.string(1, name);
  if (typeof value === 'string') w.string(4, value).int(20, 3);
  else if (Array.isArray(value)) {
    for (const x of value) w.int(8, x);
    w.int(20, 7);
  } else if (Number.isInteger(value)) w.int(3, value).int(20, 2);
  else w.float(2, value).int(20, 1);
}

export function encodeModel(spec: ModelSpec): Uint8Array {
  const w = new ProtoWriter();
  w.int(1, 10); // ir_version 10 supports opset 21
  w.string(2, 'juice-runtime');
  w.message(7, (g) => {
    spec.nodes.forEach((n, i) => {
      g.message(1, (node) => {
        for (const x of n.inputs) node.string(1, x);
        for (const x of n.outputs) node.string(2, x);
        node.string(3, `${n.opType}_${i}`).string(4, n.opType);
        for (const [k, v] of Object.entries(n.attributes ?? {})) node.message(5, (a) => writeAttribute(a, k, v));
      });
    });
    g.string(2, spec.name);
    for (const t of spec.initializers ?? []) {
      g.message(5, (tensor) => {
        for (const d of t.dims) tensor.int(1, d);
        tensor.int(2, ELEM_TYPE[t.type]).string(8, t.name);
        tensor.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
      });
    }
    for (const v of spec.inputs) g.message(11, (x) => writeValueInfo(x, v));
    for (const v of spec.outputs) g.message(12, (x) => writeValueInfo(x, v));
  });
  w.message(8, (op) => op.string(1, '').int(2, spec.opset ?? 21));
  return w.finish();
}
