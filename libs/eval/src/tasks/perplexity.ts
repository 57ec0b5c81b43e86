// PERPLEXITY: NLL of each document (rolling, from BOS) or of each row's response given its
// prompt. Aggregates are token/byte/word-weighted over the whole set (lm-eval's weighted
// perplexity), so their stderr comes from a bootstrap over documents.
import { bootstrapStderr, seededRng } from '../stats.js';
import type { LoglikelihoodItem } from '../model.js';
import { rowPair } from './rows.js';
import { renderText } from '../template.js';
import { scoreWithProgress, utf8Bytes, wordCount, type KindContext, type KindOutput } from './kind.js';

interface DocScore {
  logprob: number;
  tokens: number;
  bytes: number;
  words: number;
}

const AGGREGATES: Record<string, (s: readonly DocScore[]) => number> = {
  nll: (s) => -sum(s, 'logprob') / sum(s, 'tokens'),
  perplexity: (s) => Math.exp(-sum(s, 'logprob') / sum(s, 'tokens')),
  bits_per_byte: (s) => -sum(s, 'logprob') / (sum(s, 'bytes') * Math.LN2),
  word_perplexity: (s) => Math.exp(-sum(s, 'logprob') / sum(s, 'words')),
};

function sum(s: readonly DocScore[], k: keyof DocScore): number {
  let t = 0;
  for (const d of s) t += d[k];
  return t;
}

export async function runPerplexity(ctx: KindContext): Promise<KindOutput> {
  const { view, docs } = ctx;
  const def = view.def;
  const reqs: LoglikelihoodItem[] = docs.map(({ doc, row }) => {
    if (view.usesRows) {
      const p = rowPair(doc, row, def.dataset!);
      return { context: p.context, continuation: p.response, ...(p.chat ? { chat: p.chat } : {}) };
    }
    // Raw rows: doc_to_target given the doc_to_text context when a target is set, else the
    // document text (doc_to_text, default the "text" field) from BOS.
    if (def.docToTarget) {
      const c = view.context({ doc, row });
      return { ...c, continuation: view.targetDelimiter + renderText(def.docToTarget, doc, 'task.doc_to_target') };
    }
    const text = def.docToText ? renderText(def.docToText, doc, 'task.doc_to_text') : fieldText(doc, row);
    return { context: '', continuation: text };
  });
  const res = await scoreWithProgress(
    ctx,
    reqs,
    docs.map((_, i) => i),
  );
  const scores: DocScore[] = res.map((r, i) => ({
    logprob: r.logprob,
    tokens: r.numTokens,
    bytes: utf8Bytes(reqs[i]!.continuation),
    words: Math.max(1, wordCount(reqs[i]!.continuation)),
  }));
  const metrics: Record<string, number> = {};
  const stderr: Record<string, number> = {};
  for (const [name, agg] of Object.entries(AGGREGATES)) {
    metrics[name] = agg(scores);
    stderr[name] = bootstrapStderr(scores, agg, seededRng('bootstrap', ctx.seed, def.name, name));
  }
  const samples = scores.slice(0, ctx.logSamples).map((s, i) => ({
    docIndex: BigInt(i),
    prompt: reqs[i]!.context,
    target: reqs[i]!.continuation,
    metrics: { logprob: s.logprob, num_tokens: s.tokens, nll: -s.logprob / s.tokens },
  }));
  return { metrics, stderr, samples, weightVersions: [] };
}

function fieldText(doc: Record<string, unknown>, row: number): string {
  const t = doc['text'];
  if (typeof t !== 'string') throw new Error(`task.doc_to_text: empty, and document row ${row} has no string "text" field to score`);
  return t;
}
