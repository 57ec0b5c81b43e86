// GENERATE_MATCH: generate until a stop string, extract the answer (last regex match) and
// compare with the (regex-extracted) target after normalisation.
import { chunks } from '../batch.js';
import { compileRegex, exactMatch, extractAnswer } from '../extract.js';
import type { GenerateItem } from '../model.js';
import { mean, stderrOfMean } from '../stats.js';
import { generateBatch, type EvalSampleInit, type KindContext, type KindOutput } from './kind.js';

export async function runGenerateMatch(ctx: KindContext): Promise<KindOutput> {
  const { view, docs } = ctx;
  const def = view.def;
  const answerRe = def.answerRegex ? compileRegex(def.answerRegex, 'task.answer_regex') : undefined;
  const targetRe = def.targetRegex ? compileRegex(def.targetRegex, 'task.target_regex') : undefined;
  const norm = { ignoreCase: def.ignoreCase, ignorePunctuation: def.ignorePunctuation, ignoreStrings: def.ignoreStrings };
  const sampling = view.sampling();
  const until = view.until();

  const prepared = docs.map((rd) => {
    const c = view.context(rd);
    const rawTarget = view.target(rd.doc);
    // A target the regex does not match is used as is: the reference is ground truth, and
    // dropping it would silently mark every answer wrong.
    const target = targetRe ? (extractAnswer(rawTarget, targetRe) ?? rawTarget) : rawTarget;
    return { c, target };
  });

  const em: number[] = [];
  const samples: EvalSampleInit[] = [];
  const versions = new Set<bigint>();
  let done = 0;
  for (const batch of chunks(prepared, ctx.batchSize)) {
    const items: GenerateItem[] = batch.map((p) => ({ ...p.c, sampling, until }));
    const res = await generateBatch(ctx, items);
    res.forEach((r, j) => {
      const i = done + j;
      const p = batch[j]!;
      versions.add(r.weightVersion);
      const answer = extractAnswer(r.text, answerRe);
      const ok = exactMatch(answer, p.target, norm) ? 1 : 0;
      em.push(ok);
      if (i < ctx.logSamples)
        samples.push({ docIndex: BigInt(i), prompt: p.c.context, output: r.text, answer: answer ?? '', target: p.target, metrics: { exact_match: ok } });
    });
    done += batch.length;
    ctx.progress(done);
  }
  return { metrics: { exact_match: mean(em) }, stderr: { exact_match: stderrOfMean(em) }, samples, weightVersions: [...versions] };
}
