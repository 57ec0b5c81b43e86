// The in-memory graph: plain data, so autograd and the serialiser can walk it without a builder.
import type { Attrs } from './attributes.js';
import type { DType } from './dtype.js';
import type { Shape } from './shape.js';
import type { TensorData } from './tensor.js';

export interface ValueType {
  readonly dtype: DType;
  readonly shape: Shape;
}

export interface Node {
  readonly opType: string;
  /** '' marks an omitted optional input. */
  readonly inputs: string[];
  /** '' marks an omitted optional output. */
  readonly outputs: string[];
  readonly attrs: Attrs;
  readonly domain: string;
  readonly name: string;
}

export interface Graph {
  name: string;
  /** Graph inputs in feed order (trainable weights are inputs). */
  inputs: string[];
  outputs: string[];
  /** Frozen weights and constants. */
  initializers: Map<string, TensorData>;
  /** Topologically sorted. */
  nodes: Node[];
  /** Type of every value the graph knows (inputs, initializers, node outputs). */
  values: Map<string, ValueType>;
  /** ai.onnx opset the graph was built against. */
  opset: number;
}

/** A copy that can be extended without touching the original (nodes are copied, tensors shared). */
export function cloneGraph(g: Graph): Graph {
  return {
    name: g.name,
    inputs: [...g.inputs],
    outputs: [...g.outputs],
    initializers: new Map(g.initializers),
    nodes: g.nodes.map((n) => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs], attrs: { ...n.attrs } })),
    values: new Map(g.values),
    opset: g.opset,
  };
}

/** Map from value name to the node producing it. */
export function producers(g: Graph): Map<string, Node> {
  const m = new Map<string, Node>();
  for (const n of g.nodes) for (const o of n.outputs) if (o) m.set(o, n);
  return m;
}

/**
 * The graph restricted to what `outputs` need. Inputs are kept (so the same feeds work for every
 * graph cut from one model) unless pruneInputs is set.
 */
export function pruneGraph(g: Graph, outputs: readonly string[], opts: { pruneInputs?: boolean } = {}): Graph {
  const need = new Set<string>(outputs);
  const kept: Node[] = [];
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i]!;
    if (!n.outputs.some((o) => o && need.has(o))) continue;
    kept.push(n);
    for (const x of n.inputs) if (x) need.add(x);
  }
  kept.reverse();
  for (const o of outputs) {
    if (!g.values.has(o)) throw new Error(`graph ${g.name} has no value named ${o}`);
  }
  const out = cloneGraph({ ...g, nodes: kept });
  out.outputs = [...outputs];
  out.initializers = new Map([...g.initializers].filter(([k]) => need.has(k)));
  if (opts.pruneInputs) out.inputs = g.inputs.filter((x) => need.has(x));
  const live = new Set<string>([...out.inputs, ...out.initializers.keys()]);
  for (const n of kept) for (const o of n.outputs) if (o) live.add(o);
  out.values = new Map([...g.values].filter(([k]) => live.has(k)));
  return out;
}
