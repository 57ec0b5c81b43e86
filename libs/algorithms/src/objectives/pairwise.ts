// The pairwise objective shared by DPO, IRFT and SPIN (ALGORITHMS.md): with implicit reward
// r(x, y) = β·(log π_θ(y|x) − log π_ref(y|x)) and u = r(chosen) − r(rejected),
//   logistic: −log σ(u)      hinge: max(0, 1 − u)      linear: −u   (the plain IRL gradient)
// Rows are laid out as 2B sequences: the first B chosen (demonstrations y*), the next B rejected (y').
// π_ref log-probs come in as a value (usually a graph input `ref_logps` [2B]): the reference is a frozen
// model or the stage's starting policy, computed once per batch outside the train graph.
// IRFT's optional SFT term (IrftConfig.sft_loss_coefficient) is demonstrationNll below: the pairwise
// loss alone only moves log π(y*) relative to log π(y'), so both may fall together; the NLL anchors y*.
import type { GraphBuilder, Value } from '@juice/onnx';
import { logSigmoid } from './log-sigmoid.js';

export type PairLossKind = 'logistic' | 'hinge' | 'linear';

export interface PairwiseOptions {
  beta: number;
  loss: PairLossKind;
}

export interface PairwiseOutputs {
  loss: Value;
  /** Named scalar metrics (the names StepMetrics documents). */
  metrics: Record<string, Value>;
}

/** Adds the pairwise loss over `logps` [2B] (summed response log-probs) and the reference's `ref` [2B]. */
export function pairwiseLoss(g: GraphBuilder, logps: Value, ref: Value, o: PairwiseOptions): PairwiseOutputs {
  const dt = logps.dtype;
  const two = g.reshape(logps, [2, -1]);
  const refTwo = g.reshape(ref, [2, -1]);
  const [pc, pr] = g.split(two, [1, 1], 0).map((v) => g.reshape(v, [-1]));
  const [rc, rr] = g.split(refTwo, [1, 1], 0).map((v) => g.reshape(v, [-1]));
  const beta = g.scalar(o.beta, dt);
  const rewardChosen = g.mul(beta, g.sub(pc!, rc!));
  const rewardRejected = g.mul(beta, g.sub(pr!, rr!));
  const margin = g.sub(rewardChosen, rewardRejected);
  let perPair: Value;
  switch (o.loss) {
    case 'logistic':
      perPair = g.neg(logSigmoid(g, margin));
      break;
    case 'hinge':
      perPair = g.relu(g.sub(g.scalar(1, dt), margin));
      break;
    case 'linear':
      perPair = g.neg(margin);
      break;
  }
  const mean = (v: Value) => g.reduceMean(v, [0], false);
  return {
    loss: mean(perPair),
    metrics: {
      'reward/chosen': mean(rewardChosen),
      'reward/rejected': mean(rewardRejected),
      'reward/margin': mean(margin),
      'reward/accuracy': mean(g.cast(g.greater(margin, g.scalar(0, dt)), dt)),
      'logp/chosen': mean(pc!),
      'logp/rejected': mean(pr!),
    },
  };
}

/**
 * Token-mean negative log-likelihood of the chosen rows (the first B of 2B): `tokenLogps` [2B, T] are
 * per-token log-probs, `labels` [2B, T] int64 with −100 where nothing is predicted (prompt, padding),
 * which neither count nor contribute. A batch without any predicted chosen token gives 0, not NaN.
 */
export function demonstrationNll(g: GraphBuilder, tokenLogps: Value, labels: Value): Value {
  const dt = tokenLogps.dtype;
  const ignored = g.constant({ dtype: 'int64', dims: [], data: new Uint8Array(new BigInt64Array([-1n]).buffer) }, 'minus_one_i64');
  const valid = g.cast(g.greater(labels, ignored), dt);
  // Rows are chosen-first, so the chosen half is the first half of the flattened [2B·T] values.
  const chosen = (v: Value) => g.split(g.reshape(v, [2, -1]), [1, 1], 0)[0]!;
  const mask = chosen(valid);
  const sum = g.reduceSum(g.mul(chosen(tokenLogps), mask), undefined, false);
  const count = g.max(g.reduceSum(mask, undefined, false), g.scalar(1, dt));
  return g.neg(g.div(sum, count));
}
