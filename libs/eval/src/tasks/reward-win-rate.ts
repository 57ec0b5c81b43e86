// REWARD_WIN_RATE: the policy answers each prompt, and the reward model compares the answer with
// the reference. Win when σ(r_policy − r_reference) > 0.5, an exact tie counts half.
import { chunks } from '../batch.js';
import type { GenerateItem } from '../model.js';
import { mean, stderrOfMean } from '../stats.js';
import { generateBatch, type EvalSampleInit, type KindContext, type KindOutput } from './kind.js';
import { rowPair } from './rows.js';
import type { DocContext } from './view.js';

export function winScore(probPreferred: number): number {
  return probPreferred > 0.5 ? 1 : probPreferred === 0.5 ? 0.5 : 0;
}

export async function runRewardWinRate(ctx: KindContext): Promise<KindOutput> {
  const { view, docs } = ctx;
  const scorer = ctx.rewardScorer;
  if (!scorer) throw new Error(`task "${view.def.name}": REWARD_WIN_RATE needs a reward model (EvalTarget.reward_model_address)`);
  const sampling = view.sampling();
  const until = view.until();
  const prepared: { c: DocContext; reference: string }[] = docs.map((rd) => {
    if (view.usesRows) {
      const p = rowPair(rd.doc, rd.row, view.def.dataset!);
      return { c: p.chat ? { context: p.context, chat: p.chat } : { context: p.context }, reference: p.response };
    }
    return { c: view.context(rd), reference: view.target(rd.doc) };
  });

  const wins: number[] = [];
  const rewards: number[] = [];
  const refRewards: number[] = [];
  const probs: number[] = [];
  const samples: EvalSampleInit[] = [];
  const versions = new Set<bigint>();
  let done = 0;
  // Generate then compare per chunk, so progress and cancellation follow whole documents.
  for (const batch of chunks(prepared, ctx.batchSize)) {
    const items: GenerateItem[] = batch.map((p) => ({ ...p.c, sampling, until }));
    const gen = await generateBatch(ctx, items);
    ctx.signal?.throwIfAborted();
    const cmp = await scorer.compare(
      batch.map((p, j) => ({ prompt: p.c.context, a: gen[j]!.text, b: p.reference, ...(p.c.chat ? { chat: p.c.chat } : {}) })),
      { signal: ctx.signal },
    );
    if (cmp.length !== batch.length) throw new Error(`rewardScorer.compare: sent ${batch.length} pairs, got ${cmp.length} results`);
    cmp.forEach((r, j) => {
      const i = done + j;
      versions.add(gen[j]!.weightVersion);
      const win = winScore(r.probAPreferred);
      wins.push(win);
      rewards.push(r.rewardA);
      refRewards.push(r.rewardB);
      probs.push(r.probAPreferred);
      if (i < ctx.logSamples)
        samples.push({
          docIndex: BigInt(i),
          prompt: batch[j]!.c.context,
          output: gen[j]!.text,
          target: batch[j]!.reference,
          metrics: { win, reward: r.rewardA, reference_reward: r.rewardB, prob_preferred: r.probAPreferred },
        });
    });
    done += batch.length;
    ctx.progress(done);
  }
  return {
    metrics: { win_rate: mean(wins), mean_reward: mean(rewards), mean_reference_reward: mean(refRewards), mean_prob_preferred: mean(probs) },
    stderr: {
      win_rate: stderrOfMean(wins),
      mean_reward: stderrOfMean(rewards),
      mean_reference_reward: stderrOfMean(refRewards),
      mean_prob_preferred: stderrOfMean(probs),
    },
    samples,
    weightVersions: [...versions],
  };
}
