// log σ(u) = −softplus(−u), written piecewise so that each piece is finite and smooth:
//   u ≥ 0:  −log(1 + e^−u)        u < 0:  u − log(1 + e^u)
// The exponent is −|u| ≤ 0, so nothing overflows (the naive log(1/(1+e^−u)) does for large negative
// margins, which IRFT reaches early when the policy's own samples are very likely): finite for any u.
//
// The side is picked by Where, not by Abs and Min, so the derivative is σ(−u) at every point: both pieces
// have derivative ½ at u = 0, whichever is picked. That point is not rare: every pair of the first step of
// a DPO job or an IRFT/SPIN stage has π = π_ref, so u = 0 exactly. The former min(u, 0) − log(1 + e^−|u|)
// relied on the tie rule of Min and on Abs' derivative at 0 (0), and gave 1 there under a
// first-operand tie rule. (ONNX Softplus would do, but onnxruntime's CPU kernel is float32 only.)
import type { GraphBuilder, Value } from '@juice/onnx';

export function logSigmoid(g: GraphBuilder, u: Value): Value {
  const zero = g.scalar(0, u.dtype);
  const nonNegative = g.op('GreaterOrEqual', [u, zero]);
  const minusAbs = g.where(nonNegative, g.neg(u), u);
  const log1pExp = g.log(g.add(g.exp(minusAbs), g.scalar(1, u.dtype)));
  return g.sub(g.where(nonNegative, zero, u), log1pExp);
}
