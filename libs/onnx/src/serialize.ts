// Graph <-> ONNX ModelProto bytes. Tensors are written as raw_data; external data for >2 GB models is
// not written yet (protobuf caps a message at 2 GB: big frozen weights will need data_location=EXTERNAL).
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { Attr, Attrs } from './attributes.js';
import { bytesPerElement, dtypeFromOnnx, onnxDataType } from './dtype.js';
import {
  AttributeProto_AttributeType as AT, AttributeProtoSchema, GraphProtoSchema, ModelProtoSchema, NodeProtoSchema,
  OperatorSetIdProtoSchema, TensorProtoSchema, TensorShapeProto_DimensionSchema, TensorShapeProtoSchema,
  TypeProto_TensorSchema, TypeProtoSchema, ValueInfoProtoSchema,
  type AttributeProto, type GraphProto, type ModelProto, type TensorProto, type ValueInfoProto,
} from './gen/onnx/onnx_pb.js';
import type { Graph, ValueType } from './graph.js';
import { inferenceFor } from './infer/index.js';
import { GraphBuilder } from './builder.js';
import { isFreshDim, type Dim } from './shape.js';
import { elementCount, tensor, type TensorData } from './tensor.js';

export interface ModelOptions {
  /** ai.onnx opset (default: the graph's, 21). */
  opset?: number;
  /** IR version (default 10; onnxruntime 1.30 loads up to 13). */
  irVersion?: number;
  producerName?: string;
  /** Also write value_info for every intermediate value (bigger file; helps external tools). */
  valueInfo?: boolean;
  metadata?: Record<string, string>;
}

export function toModelProto(graph: Graph, opts: ModelOptions = {}): ModelProto {
  const opset = opts.opset ?? graph.opset;
  const io = new Set([...graph.inputs, ...graph.outputs]);
  const g: GraphProto = create(GraphProtoSchema, {
    name: graph.name,
    node: graph.nodes.map((n) => create(NodeProtoSchema, {
      opType: n.opType, input: n.inputs, output: trimTrailing(n.outputs), name: n.name, domain: n.domain,
      attribute: attrsToProto(n.attrs),
    })),
    initializer: [...graph.initializers].map(([name, t]) => tensorToProto(t, name)),
    input: graph.inputs.map((name) => valueInfo(name, typeOf(graph, name))),
    output: graph.outputs.map((name) => valueInfo(name, typeOf(graph, name))),
    valueInfo: opts.valueInfo
      ? [...graph.values].filter(([k]) => !io.has(k) && !graph.initializers.has(k)).map(([k, t]) => valueInfo(k, t))
      : [],
  });
  return create(ModelProtoSchema, {
    irVersion: BigInt(opts.irVersion ?? 10),
    opsetImport: [
      create(OperatorSetIdProtoSchema, { domain: '', version: BigInt(opset) }),
      // onnxruntime's contrib ops (FusedMatMul, RotaryEmbedding, ...) are all at version 1 of their domain.
      ...[...new Set(graph.nodes.map((n) => n.domain).filter((d) => d && d !== 'ai.onnx'))].map((domain) => create(OperatorSetIdProtoSchema, { domain, version: 1n })),
    ],
    producerName: opts.producerName ?? 'juice',
    graph: g,
    metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
  });
}

/** Serialises a graph to ONNX model bytes that onnxruntime loads. */
export function toModelBytes(graph: Graph, opts: ModelOptions = {}): Uint8Array {
  return toBinary(ModelProtoSchema, toModelProto(graph, opts));
}

/** Parses ONNX model bytes back into a Graph (values without value_info are re-inferred). */
export function fromModelBytes(bytes: Uint8Array): Graph {
  return graphFromProto(fromBinary(ModelProtoSchema, bytes));
}

export function graphFromProto(model: ModelProto): Graph {
  const gp = model.graph;
  if (!gp) throw new Error('model has no graph');
  const opset = Number(model.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 21n);
  const values = new Map<string, ValueType>();
  for (const vi of [...gp.input, ...gp.output, ...gp.valueInfo]) {
    const t = typeFromProto(vi);
    if (t) values.set(vi.name, t);
  }
  const initializers = new Map<string, TensorData>();
  for (const t of gp.initializer) {
    const data = tensorFromProto(t);
    initializers.set(t.name, data);
    values.set(t.name, { dtype: data.dtype, shape: data.dims });
  }
  const initNames = new Set(initializers.keys());
  const graph: Graph = {
    name: gp.name,
    inputs: gp.input.map((v) => v.name).filter((n) => !initNames.has(n)),
    outputs: gp.output.map((v) => v.name),
    initializers,
    nodes: gp.node.map((n, i) => ({
      opType: n.opType, inputs: [...n.input], outputs: [...n.output], attrs: attrsFromProto(n.attribute),
      domain: n.domain, name: n.name || `node_${i}`,
    })),
    values,
    opset,
  };
  // Fill in types of intermediates that the file did not describe, replaying the builder's inference.
  const missing = graph.nodes.some((n) => n.outputs.some((o) => o && !values.has(o)));
  if (!missing) return graph;
  const known = new Set([...graph.inputs, ...initializers.keys()]);
  const b = GraphBuilder.from({ ...graph, nodes: [], outputs: [], values: new Map([...values].filter(([k]) => known.has(k))) });
  for (const n of graph.nodes) {
    const recorded = n.outputs.every((o) => !o || values.has(o));
    const types = recorded || !inferenceFor(n.opType) ? n.outputs.map((o) => values.get(o) ?? { dtype: 'float32' as const, shape: [] }) : undefined;
    b.op(n.opType, n.inputs.map((x) => x || undefined), n.attrs, { outputs: n.outputs, domain: n.domain, types });
  }
  const rebuilt = b.build();
  rebuilt.outputs = graph.outputs;
  rebuilt.nodes = graph.nodes;
  return rebuilt;
}

function trimTrailing(outputs: string[]): string[] {
  let k = outputs.length;
  while (k > 1 && outputs[k - 1] === '') k--;
  return outputs.slice(0, k);
}

function typeOf(graph: Graph, name: string): ValueType {
  const t = graph.values.get(name);
  if (!t) throw new Error(`graph ${graph.name}: no type known for ${name}`);
  return t;
}

function valueInfo(name: string, t: ValueType): ValueInfoProto {
  return create(ValueInfoProtoSchema, {
    name,
    type: create(TypeProtoSchema, {
      value: {
        case: 'tensorType',
        value: create(TypeProto_TensorSchema, {
          elemType: onnxDataType(t.dtype),
          shape: create(TensorShapeProtoSchema, { dim: t.shape.map(dimToProto) }),
        }),
      },
    }),
  });
}

function dimToProto(d: Dim) {
  if (typeof d === 'number') return create(TensorShapeProto_DimensionSchema, { value: { case: 'dimValue', value: BigInt(d) } });
  if (isFreshDim(d)) return create(TensorShapeProto_DimensionSchema, {});
  return create(TensorShapeProto_DimensionSchema, { value: { case: 'dimParam', value: d } });
}

let unknownDims = 0;
function typeFromProto(vi: ValueInfoProto): ValueType | undefined {
  const tt = vi.type?.value;
  if (!tt || tt.case !== 'tensorType') return undefined;
  const shape = tt.value.shape?.dim.map((d): Dim =>
    d.value.case === 'dimValue' ? Number(d.value.value) : d.value.case === 'dimParam' ? d.value.value : `unk__p${unknownDims++}`);
  if (!shape) return undefined;
  return { dtype: dtypeFromOnnx(tt.value.elemType), shape };
}

export function tensorToProto(t: TensorData, name = ''): TensorProto {
  return create(TensorProtoSchema, {
    name, dataType: onnxDataType(t.dtype), dims: t.dims.map((d) => BigInt(d)), rawData: t.data,
  });
}

export function tensorFromProto(t: TensorProto): TensorData {
  const dtype = dtypeFromOnnx(t.dataType);
  const dims = t.dims.map(Number);
  if (t.dataLocation === 1 || t.externalData.length > 0) {
    throw new Error(`tensor ${t.name}: external data is not supported yet (load the model through onnxruntime by path)`);
  }
  const n = elementCount(dims);
  if (t.rawData.length > 0) {
    if (t.rawData.length !== n * bytesPerElement(dtype)) throw new Error(`tensor ${t.name}: raw_data has ${t.rawData.length} bytes, expected ${n * bytesPerElement(dtype)}`);
    return { dtype, dims, data: t.rawData.slice() };
  }
  if (n === 0) return tensor(dtype, dims, []);
  switch (dtype) {
    case 'float32': return tensor(dtype, dims, t.floatData);
    case 'float64': return tensor(dtype, dims, t.doubleData);
    case 'int64': return tensor(dtype, dims, t.int64Data);
    case 'float16': case 'bfloat16': return tensor(dtype, dims, Uint16Array.from(t.int32Data));
    default: return tensor(dtype, dims, t.int32Data);
  }
}

function attrsToProto(attrs: Attrs): AttributeProto[] {
  return Object.entries(attrs).map(([name, a]) => attrToProto(name, a));
}

function attrToProto(name: string, a: Attr): AttributeProto {
  switch (a.kind) {
    case 'int': return create(AttributeProtoSchema, { name, type: AT.INT, i: BigInt(a.value) });
    case 'float': return create(AttributeProtoSchema, { name, type: AT.FLOAT, f: a.value });
    case 'string': return create(AttributeProtoSchema, { name, type: AT.STRING, s: new TextEncoder().encode(a.value) });
    case 'ints': return create(AttributeProtoSchema, { name, type: AT.INTS, ints: a.value.map((v) => BigInt(v)) });
    case 'floats': return create(AttributeProtoSchema, { name, type: AT.FLOATS, floats: a.value });
    case 'strings': return create(AttributeProtoSchema, { name, type: AT.STRINGS, strings: a.value.map((s) => new TextEncoder().encode(s)) });
    case 'tensor': return create(AttributeProtoSchema, { name, type: AT.TENSOR, t: tensorToProto(a.value) });
  }
}

function attrsFromProto(list: AttributeProto[]): Attrs {
  const out: Attrs = {};
  const dec = new TextDecoder();
  for (const a of list) {
    switch (a.type) {
      case AT.INT: out[a.name] = { kind: 'int', value: Number(a.i) }; break;
      case AT.FLOAT: out[a.name] = { kind: 'float', value: a.f }; break;
      case AT.STRING: out[a.name] = { kind: 'string', value: dec.decode(a.s) }; break;
      case AT.INTS: out[a.name] = { kind: 'ints', value: a.ints.map(Number) }; break;
      case AT.FLOATS: out[a.name] = { kind: 'floats', value: [...a.floats] }; break;
      case AT.STRINGS: out[a.name] = { kind: 'strings', value: a.strings.map((s) => dec.decode(s)) }; break;
      case AT.TENSOR: out[a.name] = { kind: 'tensor', value: tensorFromProto(a.t!) }; break;
      default: throw new Error(`attribute ${a.name}: type ${AT[a.type]} is not supported by juice`);
    }
  }
  return out;
}
