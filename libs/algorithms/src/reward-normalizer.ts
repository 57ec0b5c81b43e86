// RFT's reward scaling before advantages (RewardNormalization): raw reward-model scores are divided by
// a running standard deviation (the research recipe; optionally also centred on a running mean) over
// every score seen so far in the job, then clipped. The moments are updated with a batch before it is
// scaled, so the first round is scaled by its own spread.
import { RunningMoments } from './advantages.js';

export type RewardNormalizationMode = 'none' | 'running_std' | 'running_mean_std';

export class RewardNormalizer {
  constructor(
    readonly mode: RewardNormalizationMode,
    /** |normalised| ≤ clip; 0 = no clipping. */
    readonly clip = 0,
    readonly moments = new RunningMoments(),
  ) {}

  normalize(scores: readonly number[]): number[] {
    let out = scores.slice();
    if (this.mode !== 'none') {
      this.moments.update(scores);
      const std = this.moments.std > 1e-8 ? this.moments.std : 1;
      const mean = this.mode === 'running_mean_std' ? this.moments.mean : 0;
      out = scores.map((s) => (s - mean) / std);
    }
    return this.clip > 0 ? out.map((x) => Math.max(-this.clip, Math.min(this.clip, x))) : out;
  }
}
