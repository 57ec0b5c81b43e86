// Teacher-forced log-likelihood of given completions (ScoreCompletions), with lm-evaluation-harness's
// tokenization of (context, continuation) pairs, batched through the model's forward-only graph. The
// generator's RPC and the evaluator's in-process model both call this, so their numbers agree.
import { encodePrompt, promptText } from '@juice/models';
import type { ScoreCompletionsItem, ScoreCompletionsResult } from '@juice/proto';
import { InputError } from './errors.js';
import type { ServedLm } from './served-lm.js';

export interface ScoredItem {
  result: Omit<ScoreCompletionsResult, '$typeName' | '$unknown'>;
}

/** Context and completion token ids of one item (proto comment on ScoreCompletionsItem.completion). */
export function encodePair(host: Pick<ServedLm, 'model'>, item: ScoreCompletionsItem, field: string): { context: number[]; completion: number[] } {
  const tok = host.model.tokenizer;
  const c = item.completion!;
  const p = item.prompt;
  if (c.kind.case === 'tokens') return { context: p?.kind.case ? encodePrompt(tok, p, `${field}.prompt`) : [tok.bosTokenId ?? tok.eosTokenIds[0]!], completion: [...c.kind.value.ids] };
  let cont = c.kind.value as string;
  if (!p || p.kind.case === undefined) return { context: [tok.bosTokenId ?? tok.eosTokenIds[0]!], completion: tok.encode(cont) };
  if (p.kind.case === 'tokens') return { context: [...p.kind.value.ids], completion: tok.encode(cont) };
  let ctx = p.kind.case === 'text' ? p.kind.value : promptText(tok, p);
  // lm-eval moves the context's trailing whitespace to the continuation before encoding.
  const trailing = /\s*$/.exec(ctx)![0];
  if (trailing) {
    ctx = ctx.slice(0, ctx.length - trailing.length);
    cont = trailing + cont;
  }
  const special = p.kind.case === 'text' && tok.addBosToken;
  const whole = tok.encode(ctx + cont, { addSpecialTokens: special });
  const context = tok.encode(ctx, { addSpecialTokens: special });
  return { context, completion: whole.slice(context.length) };
}

export async function scoreCompletions(host: ServedLm, items: readonly ScoreCompletionsItem[], wantTokens: boolean, signal: AbortSignal): Promise<{ results: ScoreCompletionsResult[]; version: bigint }> {
  const L = host.contextLength;
  const pairs = items.map((it, i) => {
    const { context, completion } = encodePair(host, it, `items[${i}]`);
    if (completion.length === 0) throw new InputError(`items[${i}].completion`, 'yields no tokens');
    if (completion.length >= L) throw new InputError(`items[${i}].completion`, `${completion.length} tokens do not fit the context length ${L} with any context`);
    const keep = Math.min(context.length, L - completion.length);
    return { context: context.slice(context.length - keep), completion, truncated: context.length - keep };
  });
  const out: ScoreCompletionsResult[] = [];
  const batch = 32;
  // All chunks are posted to the scoring worker at once, so a weight pin cannot fall between them.
  const version = host.scorerVersion;
  const chunks = [];
  for (let start = 0; start < pairs.length; start += batch) chunks.push(pairs.slice(start, start + batch));
  const runs = chunks.map((chunk) => {
    const B = chunk.length;
    const T = Math.max(...chunk.map((p) => p.context.length + p.completion.length));
    const ids = new BigInt64Array(B * T);
    const mask = new BigInt64Array(B * T);
    const labels = new BigInt64Array(B * T).fill(-100n);
    chunk.forEach((p, b) => {
      const seq = [...p.context, ...p.completion];
      seq.forEach((t, i) => ((ids[b * T + i] = BigInt(t)), (mask[b * T + i] = 1n)));
      for (let i = p.context.length - 1; i < seq.length - 1; i++) labels[b * T + i] = BigInt(seq[i + 1]!);
    });
    // Settled into values so a later chunk's failure is not an unhandled rejection while an earlier one is awaited.
    const run = host.scorer.run({ input_ids: { data: ids, dims: [B, T] }, attention_mask: { data: mask, dims: [B, T] }, labels: { data: labels, dims: [B, T] } }).then(
      (ok) => ({ ok }),
      (error: unknown) => ({ error }),
    );
    return { chunk, T, run };
  });
  for (const { chunk, T, run } of runs) {
    const settled = await run;
    if ('error' in settled) throw settled.error;
    const res = settled.ok;
    signal.throwIfAborted();
    const lp = res.token_logprobs!.data as Float32Array;
    const greedy = res.token_is_greedy!.data as Uint8Array;
    chunk.forEach((p, b) => {
      const tokenLogprobs: number[] = [];
      let isGreedy = true;
      for (let i = p.context.length - 1; i < p.context.length + p.completion.length - 1; i++) {
        tokenLogprobs.push(lp[b * T + i]!);
        isGreedy &&= greedy[b * T + i] === 1;
      }
      out.push({
        $typeName: 'juice.v1.ScoreCompletionsResult',
        logprob: tokenLogprobs.reduce((a, v) => a + v, 0),
        isGreedy,
        numTokens: p.completion.length,
        numPromptTokens: p.context.length,
        numBytes: Buffer.byteLength(host.model.tokenizer.decode(p.completion), 'utf8'),
        truncatedPromptTokens: p.truncated,
        tokenIds: wantTokens ? p.completion : [],
        tokenLogprobs: wantTokens ? tokenLogprobs : [],
        topLogprobs: [],
      } as ScoreCompletionsResult);
    });
  }
  return { results: out, version };
}
