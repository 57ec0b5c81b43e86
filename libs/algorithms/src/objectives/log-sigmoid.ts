// log σ(x) = min(x, 0) − log(1 + exp(−|x|)): finite for any x (the naive log(1/(1+e^−x)) overflows for
// large negative margins, which IRFT reaches early when the policy's own samples are very likely).
import type { GraphBuilder, Value } from '@juice/onnx';

export function logSigmoid(g: GraphBuilder, x: Value): Value {
  const negAbs = g.neg(g.abs(x));
  return g.sub(g.min(x, g.scalar(0, x.dtype)), g.log(g.add(g.exp(negAbs), g.scalar(1, x.dtype))));
}
