// MULTIPLE_CHOICE: log-likelihood of target_delimiter + choice given the context for every
// choice; acc picks the highest raw log-prob, acc_norm the highest log-prob per byte of the
// choice (lm-eval divides by the choice's length; the proto fixes the unit as UTF-8 bytes).
import type { LoglikelihoodItem } from '../model.js';
import { mean, stderrOfMean } from '../stats.js';
import { argmax, scoreWithProgress, utf8Bytes, type EvalSampleInit, type KindContext, type KindOutput } from './kind.js';

export async function runMultipleChoice(ctx: KindContext): Promise<KindOutput> {
  const { view, docs } = ctx;
  const reqs: LoglikelihoodItem[] = [];
  const owners: number[] = [];
  const prepared = docs.map((rd, i) => {
    const c = view.context(rd);
    const choices = view.choices(rd.doc);
    const gold = view.goldIndex(rd.doc, choices);
    for (const choice of choices) {
      reqs.push({ ...c, continuation: view.targetDelimiter + choice });
      owners.push(i);
    }
    return { context: c.context, choices, gold };
  });
  const res = await scoreWithProgress(ctx, reqs, owners);

  const acc: number[] = [];
  const accNorm: number[] = [];
  const samples: EvalSampleInit[] = [];
  let k = 0;
  prepared.forEach((p, i) => {
    const lls = p.choices.map((_, j) => res[k + j]!.logprob);
    k += p.choices.length;
    const pred = argmax(lls);
    // max(1, …) keeps an empty choice from dividing by zero.
    const predNorm = argmax(lls.map((ll, j) => ll / Math.max(1, utf8Bytes(p.choices[j]!))));
    acc.push(pred === p.gold ? 1 : 0);
    accNorm.push(predNorm === p.gold ? 1 : 0);
    if (i < ctx.logSamples)
      samples.push({
        docIndex: BigInt(i),
        prompt: p.context,
        output: p.choices[pred]!,
        target: p.choices[p.gold]!,
        choiceLogprobs: lls,
        metrics: { acc: acc[i]!, acc_norm: accNorm[i]! },
      });
  });
  return {
    metrics: { acc: mean(acc), acc_norm: mean(accNorm) },
    stderr: { acc: stderrOfMean(acc), acc_norm: stderrOfMean(accNorm) },
    samples,
    weightVersions: [],
  };
}
