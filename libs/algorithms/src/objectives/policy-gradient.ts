// RFT's policy step against the reward model, per response token (mask [B,T] = 1 on response tokens):
// - APA (the research code): mean((log π_θ − log π_ref − Â/λ)²); its minimiser log π = log π_ref + Â/λ
//   is the KL-regularised optimum, so the KL leash is built in.
// - PPO-clip: −mean(min(ρ·Â, clip(ρ, 1−ε, 1+ε)·Â)), ρ = exp(log π_θ − log π_old).
// - REINFORCE / RLOO: −mean(log π_θ · Â) (the baseline is already in Â; RLOO's is the mean reward of
//   the other samples of the same prompt). The per-token KL penalty of PPO/RLOO/REINFORCE is folded
//   into the rewards before advantages are computed (as TRL and OpenRLHF do), so it is not a graph term.
// Per-token values, all [B,T] like tokenLogps: advantages, mask, and ref (APA) or old (PPO) log-probs.
import type { GraphBuilder, Value } from '@juice/onnx';

export type PolicyMethod = 'apa' | 'ppo_clip' | 'reinforce';

export interface PolicyGradientOptions {
  method: PolicyMethod;
  /** APA λ. */
  apaLambda?: number;
  /** PPO ε. */
  clip?: number;
}

export interface PolicyInputs {
  advantages: Value;
  mask: Value;
  /** log π_ref per token (APA). */
  ref?: Value;
  /** log π_old per token, the sampling policy (PPO). */
  old?: Value;
}

export function policyGradientLoss(g: GraphBuilder, tokenLogps: Value, x: PolicyInputs, o: PolicyGradientOptions): { loss: Value; metrics: Record<string, Value> } {
  const dt = tokenLogps.dtype;
  const adv = x.advantages;
  const mask = x.mask;
  const tokens = g.reduceSum(mask, undefined, false);
  const maskedMean = (v: Value) => g.div(g.reduceSum(g.mul(v, mask), undefined, false), tokens);
  let perToken: Value;
  const metrics: Record<string, Value> = {};
  if (o.method === 'apa') {
    if (!x.ref) throw new Error('APA needs the reference log-probs (ref)');
    const ref = x.ref;
    const d = g.sub(g.sub(tokenLogps, ref), g.div(adv, g.scalar(o.apaLambda ?? 0.1, dt)));
    perToken = g.mul(d, d);
    metrics['kl'] = maskedMean(g.sub(tokenLogps, ref));
  } else if (o.method === 'ppo_clip') {
    if (!x.old) throw new Error('PPO-clip needs the sampling policy log-probs (old)');
    const old = x.old;
    const eps = o.clip ?? 0.2;
    const ratio = g.exp(g.sub(tokenLogps, old));
    const clipped = g.clip(ratio, 1 - eps, 1 + eps);
    perToken = g.neg(g.min(g.mul(ratio, adv), g.mul(clipped, adv)));
    metrics['ppo/clip_fraction'] = maskedMean(g.cast(g.greater(g.abs(g.sub(ratio, g.scalar(1, dt))), g.scalar(eps, dt)), dt));
    metrics['ppo/approx_kl'] = maskedMean(g.sub(old, tokenLogps));
  } else {
    perToken = g.neg(g.mul(tokenLogps, adv));
  }
  return { loss: maskedMean(perToken), metrics: { ...metrics, 'advantage/mean': maskedMean(adv) } };
}
