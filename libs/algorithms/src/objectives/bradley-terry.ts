// Reward-model training (RFT's reward step and REWARD_MODEL jobs): the reward of the preferred
// response should exceed the other's, L = −mean log σ(r⁺ − r⁻) (+ c·mean((r⁺ + r⁻)²) to keep rewards
// centred). Rows: first B preferred (demonstration / chosen), next B dispreferred (own sample / rejected).
import type { GraphBuilder, Value } from '@juice/onnx';
import { logSigmoid } from './log-sigmoid.js';
import type { PairwiseOutputs } from './pairwise.js';

export function bradleyTerryLoss(g: GraphBuilder, rewards: Value, centerCoefficient = 0): PairwiseOutputs {
  const dt = rewards.dtype;
  const [pos, neg] = g.split(g.reshape(rewards, [2, -1]), [1, 1], 0).map((v) => g.reshape(v, [-1]));
  const diff = g.sub(pos!, neg!);
  const mean = (v: Value) => g.reduceMean(v, [0], false);
  let loss = mean(g.neg(logSigmoid(g, diff)));
  if (centerCoefficient > 0) {
    const s = g.add(pos!, neg!);
    loss = g.add(loss, g.mul(g.scalar(centerCoefficient, dt), mean(g.mul(s, s))));
  }
  return {
    loss,
    metrics: {
      'rm/chosen': mean(pos!),
      'rm/rejected': mean(neg!),
      'rm/margin': mean(diff),
      'rm/accuracy': mean(g.cast(g.greater(diff, g.scalar(0, dt)), dt)),
    },
  };
}
