// Undo numpy broadcasting: sum a gradient over the axes along which the input was stretched.
import { isStatic, type GraphBuilder, type Value } from '@juice/onnx';

/**
 * Reduces `grad` (the broadcast shape) to `target`'s shape. Leading extra axes are summed away; an
 * aligned axis is summed when the target dim is a static 1 and the gradient's is not. A symbolic target
 * dim is taken never to be a broadcast 1 (the builder's broadcasting convention).
 */
export function sumToShape(g: GraphBuilder, grad: Value, target: Value): Value {
  const r = target.rank;
  const R = grad.rank;
  if (R < r) throw new Error(`gradient ${grad.name} has rank ${R}, below its input ${target.name}'s rank ${r}`);
  const lead = Array.from({ length: R - r }, (_, i) => i);
  const stretched: number[] = [];
  for (let i = 0; i < r; i++) {
    if (target.shape[i] === 1 && grad.shape[R - r + i] !== 1) stretched.push(R - r + i);
  }
  if (lead.length === 0 && stretched.length === 0) return grad;
  if (stretched.length === 0) return g.reduceSum(grad, lead, false);
  const summed = g.reduceSum(grad, [...lead, ...stretched], true);
  return lead.length === 0 ? summed : g.reshape(summed, isStatic(target.shape) ? [...target.shape] : g.shape(target));
}
