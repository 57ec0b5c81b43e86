// The implicit-reward margin on held-out data, the quantity IRFT optimises, measured the same way for
// every arm: r_θ(x, y) = β·(log π_θ(y|x) − log π_SFT(y|x)), with y* the held-out demonstration and y'
// the SFT model's own greedy answer to the same prompt (what IRFT's first stage uses as the negative).
// margin = mean r_θ(y*) − r_θ(y'); accuracy = share of prompts where it is > 0. For the SFT arm itself
// both are 0 by definition. Prompts whose SFT answer already equals the demonstration (or is empty) are
// no contrast and are left out (their count is reported).
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { Demonstration } from '@juice/data';
import type { PromptSchema } from '@juice/proto';
import type { GeneratorClient } from './weights.js';

type PromptInit = MessageInitShape<typeof PromptSchema>;

export interface MarginSet {
  prompts: PromptInit[];
  demonstrations: string[];
  negatives: string[];
  /** Held-out prompts considered, and those left out because the SFT answer equals the demonstration or is empty. */
  considered: number;
  identical: number;
  empty: number;
}

export interface MarginScores {
  chosen: number[];
  rejected: number[];
}

export interface MarginStats {
  margin: number;
  accuracy: number;
  /** Mean change of log π(y*) and log π(y') against SFT (nats per response). */
  chosenLogpDelta: number;
  rejectedLogpDelta: number;
  /**
   * The paper's Figure 1: mean log π_θ(y*|x) − log π_θ(y'|x) under the arm's own weights (nats), the
   * log-probability gap between the held-out demonstration and the rejected answer. The SFT arm's value
   * is every other arm's "before" (they all start from it); gap − SFT's gap = margin / β.
   * Absent in runs saved before it was measured.
   */
  logpGap?: number;
  pairs: number;
}

export function toPromptInit(p: Demonstration['prompt']): PromptInit {
  return p.kind === 'text' ? { kind: { case: 'text', value: p.text } } : { kind: { case: 'chat', value: { messages: p.messages } } };
}

/** The SFT model's greedy answers (the generator must be serving SFT at `version`). */
export async function sftNegatives(generator: GeneratorClient, version: bigint, demos: readonly Demonstration[], maxNewTokens: number): Promise<MarginSet> {
  const prompts = demos.map((d) => toPromptInit(d.prompt));
  const texts: string[] = [];
  for (let i = 0; i < prompts.length; i += 64) {
    const res = await generator.generate({ prompts: prompts.slice(i, i + 64), sampling: { temperature: 0, maxNewTokens }, minWeightVersion: version });
    for (const r of res.results) texts.push(r.samples[0]?.text ?? '');
  }
  const set: MarginSet = { prompts: [], demonstrations: [], negatives: [], considered: demos.length, identical: 0, empty: 0 };
  demos.forEach((d, i) => {
    const neg = texts[i]!;
    if (neg.trim() === '') set.empty++;
    else if (neg.trim() === d.response.trim()) set.identical++;
    else {
      set.prompts.push(prompts[i]!);
      set.demonstrations.push(d.response);
      set.negatives.push(neg);
    }
  });
  return set;
}

/** Summed log-probs of every demonstration and negative under the weights served at `version`. */
export async function scoreMarginSet(generator: GeneratorClient, version: bigint, set: MarginSet): Promise<MarginScores> {
  const score = async (texts: string[]) => {
    const out: number[] = [];
    for (let i = 0; i < texts.length; i += 256) {
      const items = texts.slice(i, i + 256).map((t, j) => ({ prompt: set.prompts[i + j]!, completion: { kind: { case: 'text' as const, value: t } } }));
      const res = await generator.scoreCompletions({ items, minWeightVersion: version });
      out.push(...res.results.map((r) => r.logprob));
    }
    return out;
  };
  return { chosen: await score(set.demonstrations), rejected: await score(set.negatives) };
}

export function marginStats(arm: MarginScores, sft: MarginScores, beta: number): MarginStats {
  const n = arm.chosen.length;
  if (n === 0) return { margin: NaN, accuracy: NaN, chosenLogpDelta: NaN, rejectedLogpDelta: NaN, logpGap: NaN, pairs: 0 };
  let margin = 0;
  let wins = 0;
  let dc = 0;
  let dr = 0;
  let gap = 0;
  for (let i = 0; i < n; i++) {
    gap += arm.chosen[i]! - arm.rejected[i]!;
    const c = arm.chosen[i]! - sft.chosen[i]!;
    const r = arm.rejected[i]! - sft.rejected[i]!;
    const m = beta * (c - r);
    margin += m;
    dc += c;
    dr += r;
    if (m > 0) wins++;
  }
  return { margin: margin / n, accuracy: wins / n, chosenLogpDelta: dc / n, rejectedLogpDelta: dr / n, logpGap: gap / n, pairs: n };
}
