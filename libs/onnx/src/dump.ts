// Readable text form of a graph for debugging: `y = MatMul(x, w)  # float32[B,32]`.
import { formatAttr } from './attributes.js';
import type { Graph } from './graph.js';
import { formatShape } from './shape.js';
import { tensorValues } from './tensor.js';

export function dumpGraph(g: Graph): string {
  const type = (name: string) => {
    const t = g.values.get(name);
    return t ? `${t.dtype}${formatShape(t.shape)}` : '?';
  };
  const lines = [`graph ${g.name} (opset ${g.opset})`];
  for (const i of g.inputs) lines.push(`  input ${i}: ${type(i)}`);
  for (const [name, t] of g.initializers) {
    const n = t.dims.reduce((a, b) => a * b, 1);
    const small = n <= 8 ? ` = ${n === 1 && t.dims.length === 0 ? tensorValues(t)[0] : `[${tensorValues(t).join(', ')}]`}` : '';
    lines.push(`  init ${name}: ${type(name)}${small}`);
  }
  for (const n of g.nodes) {
    const attrs = Object.entries(n.attrs).map(([k, a]) => `${k}=${formatAttr(a)}`).join(', ');
    const outs = n.outputs.map((o) => o || '_').join(', ');
    const op = n.domain ? `${n.domain}.${n.opType}` : n.opType;
    const types = n.outputs.filter((o) => o).map(type).join(', ');
    lines.push(`  ${outs} = ${op}(${n.inputs.map((x) => x || '_').join(', ')})${attrs ? ` {${attrs}}` : ''}  # ${types}`);
  }
  for (const o of g.outputs) lines.push(`  output ${o}: ${type(o)}`);
  return lines.join('\n');
}
