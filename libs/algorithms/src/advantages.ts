// Advantage estimation for RFT's policy step, in JS over per-sequence arrays (rollouts are small next
// to the graphs that score them). Formulas follow TRL/OpenRLHF so their recipes transfer.

/** RLOO: each sample's baseline is the mean reward of the other k−1 samples of its prompt. */
export function rlooAdvantages(rewards: readonly number[], samplesPerPrompt: number): number[] {
  const k = samplesPerPrompt;
  if (k < 2) throw new Error(`RLOO needs at least 2 samples per prompt, got ${k}`);
  if (rewards.length % k !== 0) throw new Error(`${rewards.length} rewards do not split into groups of ${k}`);
  const out = new Array<number>(rewards.length);
  for (let s = 0; s < rewards.length; s += k) {
    let sum = 0;
    for (let j = 0; j < k; j++) sum += rewards[s + j]!;
    for (let j = 0; j < k; j++) out[s + j] = rewards[s + j]! - (sum - rewards[s + j]!) / (k - 1);
  }
  return out;
}

/** Whitening over the masked entries: (x − mean) / (std + 1e-8), optionally keeping the mean. */
export function whiten(values: Float32Array, mask: Float32Array, shiftMean = true): Float32Array {
  let n = 0;
  let sum = 0;
  for (let i = 0; i < values.length; i++) if (mask[i]) (sum += values[i]!), n++;
  const mean = n ? sum / n : 0;
  let ss = 0;
  for (let i = 0; i < values.length; i++) if (mask[i]) ss += (values[i]! - mean) ** 2;
  // Unbiased variance, as torch.var in TRL's masked_whiten.
  const std = Math.sqrt(n > 1 ? ss / (n - 1) : 0);
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) if (mask[i]) out[i] = ((values[i]! - mean) / (std + 1e-8)) + (shiftMean ? 0 : mean);
  return out;
}

/** GAE over one response: δ_t = r_t + γ V_{t+1} − V_t, A_t = δ_t + γλ A_{t+1}; returns (advantages, returns). */
export function gae(rewards: readonly number[], values: readonly number[], gamma: number, lambda: number): { advantages: number[]; returns: number[] } {
  const T = rewards.length;
  const adv = new Array<number>(T).fill(0);
  let last = 0;
  for (let t = T - 1; t >= 0; t--) {
    const next = t + 1 < T ? values[t + 1]! : 0;
    const delta = rewards[t]! + gamma * next - values[t]!;
    last = delta + gamma * lambda * last;
    adv[t] = last;
  }
  return { advantages: adv, returns: adv.map((a, t) => a + values[t]!) };
}

/**
 * Per-token rewards of one response with the KL penalty folded in: −β·(log π − log π_ref) at every
 * token, plus the sequence reward at the last token (the reward model scores whole responses).
 */
export function klShapedRewards(score: number, logps: readonly number[], refLogps: readonly number[], klCoef: number): number[] {
  const r = logps.map((lp, t) => -klCoef * (lp - refLogps[t]!));
  if (r.length > 0) r[r.length - 1]! += score;
  return r;
}

/** Running mean/std of rewards (Welford, merged per batch) for REWARD_NORMALIZATION_RUNNING_STD. */
export class RunningMoments {
  count = 0;
  mean = 0;
  private m2 = 0;

  update(xs: readonly number[]): void {
    for (const x of xs) {
      this.count++;
      const d = x - this.mean;
      this.mean += d / this.count;
      this.m2 += d * (x - this.mean);
    }
  }

  get std(): number {
    return this.count > 1 ? Math.sqrt(this.m2 / (this.count - 1)) : 1;
  }

  state(): { count: number; mean: number; m2: number } {
    return { count: this.count, mean: this.mean, m2: this.m2 };
  }

  static restore(s: { count: number; mean: number; m2: number }): RunningMoments {
    const r = new RunningMoments();
    r.count = s.count;
    r.mean = s.mean;
    r.m2 = s.m2;
    return r;
  }
}

/** Adaptive KL coefficient (Ziegler et al. 2019), as TRL's AdaptiveKLController. */
export class AdaptiveKlController {
  constructor(
    public value: number,
    private readonly target: number,
    private readonly horizon: number,
  ) {}

  update(currentKl: number, nSteps: number): void {
    const error = Math.max(-0.2, Math.min(0.2, currentKl / this.target - 1));
    this.value *= 1 + (error * nSteps) / this.horizon;
  }
}
