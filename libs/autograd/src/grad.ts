// Reverse-mode differentiation of a forward graph into one forward+backward graph.
import { GraphBuilder, isFloat, pruneGraph, tensor, type Graph, type Value } from '@juice/onnx';
import { filledLike, GradContext } from './context.js';
import { gradientRule } from './registry.js';
import { sumToShape } from './sum-to-shape.js';
import './rules/index.js';

export interface GradOptions {
  /** Name of the (usually scalar) loss value; the seed is ones of its shape. */
  loss: string;
  /** Graph inputs (or initializers) to differentiate with respect to; outputs are `grad.<name>`. */
  wrt: readonly string[];
  /** Further values to output alongside the loss (metrics). Keep them small: outputs are copied. */
  keepOutputs?: readonly string[];
  /** Name prefix of gradient outputs (default 'grad.'). */
  prefix?: string;
}

/**
 * A new graph computing `loss`, the kept outputs and the gradient of `loss` w.r.t. each `wrt` value.
 * Only nodes on a path from a wrt input to the loss get backward nodes; the result is pruned to what
 * its outputs need, so unrelated forward outputs cost nothing.
 */
export function grad(graph: Graph, opts: GradOptions): Graph {
  const g = GraphBuilder.from(graph);
  const prefix = opts.prefix ?? 'grad.';
  const loss = g.value(opts.loss);
  for (const w of opts.wrt) {
    const v = g.value(w);
    if (!isFloat(v.dtype)) throw new Error(`cannot differentiate w.r.t. ${w}: dtype ${v.dtype} is not floating point`);
  }
  const nodes = [...graph.nodes];
  const fromWrt = new Set(opts.wrt);
  for (const n of nodes) if (n.inputs.some((x) => x && fromWrt.has(x))) for (const o of n.outputs) if (o) fromWrt.add(o);
  const toLoss = new Set([opts.loss]);
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i]!;
    if (n.outputs.some((o) => o && toLoss.has(o))) for (const x of n.inputs) if (x) toLoss.add(x);
  }

  const grads = new Map<string, Value>();
  const accumulate = (name: string, d: Value) => {
    const prev = grads.get(name);
    grads.set(name, prev ? g.op('Add', [prev, d], {}, { name: `d_${name}` }) : d);
  };
  accumulate(opts.loss, loss.rank === 0
    ? g.scalar(1, loss.dtype)
    : g.op('ConstantOfShape', [g.shape(loss)], { value: tensor(loss.dtype, [1], [1]) }, { name: 'seed' }));

  // The builder's live node list is the clone's, so rules can add outputs to forward nodes.
  const live = g.graph.nodes.slice(0, nodes.length);
  for (let i = live.length - 1; i >= 0; i--) {
    const node = live[i]!;
    const outGrads = node.outputs.map((o) => (o ? grads.get(o) : undefined));
    if (outGrads.every((d) => d === undefined)) continue;
    const wanted = node.inputs.map((x) => !!x && fromWrt.has(x) && toLoss.has(x) && isFloat(g.value(x).dtype));
    if (!wanted.some(Boolean)) continue;
    const rule = gradientRule(node.opType);
    if (!rule) {
      throw new Error(`no gradient rule for op ${node.opType} (node ${node.name}, outputs ${node.outputs.join(', ')}), which lies between ${opts.wrt.join(', ')} and ${opts.loss}`);
    }
    const dxs = rule(new GradContext(g, node, outGrads, wanted));
    node.inputs.forEach((x, k) => {
      const d = dxs[k];
      if (!wanted[k] || !d) return;
      const target = g.value(x);
      if (d.dtype !== target.dtype) {
        throw new Error(`gradient rule of ${node.opType} returned ${d.dtype} for input ${x} of dtype ${target.dtype}`);
      }
      accumulate(x, sumToShape(g, d, target));
    });
  }

  const outputs = [...new Set([opts.loss, ...(opts.keepOutputs ?? [])])];
  for (const w of opts.wrt) {
    const v = g.value(w);
    const d = grads.get(w) ?? filledLike(g, v, 0);
    outputs.push(g.output(d, `${prefix}${w}`).name);
  }
  const built = g.build();
  return pruneGraph(built, outputs);
}

/** The graph cut down to what `outputs` need (an evaluation graph pays for no backward). */
export function forwardOnly(graph: Graph, outputs: readonly string[], opts: { pruneInputs?: boolean } = {}): Graph {
  return pruneGraph(graph, outputs, opts);
}
