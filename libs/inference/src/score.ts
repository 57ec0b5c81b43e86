// Teacher-forced log-likelihood of given completions (ScoreCompletions), with lm-evaluation-harness's
// tokenization of (context, continuation) pairs, batched through the model's forward-only graph. The
// generator's RPC and the evaluator's in-process model both call this, so their numbers agree.
import { encodePrompt, promptText } from '@juice/models';
import type { ScoreCompletionsItem, ScoreCompletionsResult } from '@juice/proto';
import { InputError } from './errors.js';
import { scorerAdapterFeeds, type ServedLm } from './served-lm.js';

export interface ScoredItem {
  result: Omit<ScoreCompletionsResult, '$typeName' | '$unknown'>;
}

/**
 * Context and completion token ids of one item (proto comment on ScoreCompletionsItem.completion),
 * with lm-evaluation-harness's split and the prompt's special-token policy (the same ids a training
 * row's prompt has): whole = prompt ids of (context + continuation), continuation = whole[len(context
 * ids):], after the context's trailing whitespace has moved to the continuation. No EOS is appended to
 * a scored continuation. An empty context (no prompt, or one that encodes to nothing) is the BOS token,
 * EOS when there is none, as lm-eval scores from its prefix token.
 */
export function encodePair(host: Pick<ServedLm, 'model'>, item: ScoreCompletionsItem, field: string): { context: number[]; completion: number[] } {
  const tok = host.model.tokenizer;
  const c = item.completion!;
  const p = item.prompt;
  const start = [tok.bosTokenId ?? tok.eosTokenIds[0]!];
  const orStart = (ids: number[]) => (ids.length ? ids : start);
  if (c.kind.case === 'tokens') return { context: p?.kind.case ? orStart(encodePrompt(tok, p, `${field}.prompt`)) : start, completion: [...c.kind.value.ids] };
  let cont = c.kind.value as string;
  if (!p || p.kind.case === undefined) return { context: start, completion: tok.encode(cont) };
  if (p.kind.case === 'tokens') return { context: [...p.kind.value.ids], completion: tok.encode(cont) };
  let ctx = promptText(tok, p, `${field}.prompt`);
  // lm-eval moves the context's trailing whitespace to the continuation before encoding.
  const trailing = /\s*$/.exec(ctx)![0];
  if (trailing) {
    ctx = ctx.slice(0, ctx.length - trailing.length);
    cont = trailing + cont;
  }
  const context = tok.encodeRenderedPrompt(ctx, p.kind.case);
  const whole = tok.encodeRenderedPrompt(ctx + cont, p.kind.case);
  const completion = whole.slice(context.length);
  return { context: orStart(context), completion };
}

/** `adapter`: a held adapter's name ("" = the base); the caller checks it is held (NOT_FOUND). */
export async function scoreCompletions(host: ServedLm, items: readonly ScoreCompletionsItem[], wantTokens: boolean, signal: AbortSignal, adapter = ''): Promise<{ results: ScoreCompletionsResult[]; version: bigint }> {
  const L = host.contextLength;
  const pairs = items.map((it, i) => {
    const { context, completion } = encodePair(host, it, `items[${i}]`);
    if (completion.length === 0) throw new InputError(`items[${i}].completion`, 'yields no tokens');
    if (completion.length > L) throw new InputError(`items[${i}].completion`, `${completion.length} tokens exceed the context length ${L}`);
    // lm-eval's left truncation: the model reads (context + completion)[-(L + 1):][:-1] (the last token
    // is only ever a label), so the context keeps its last L + 1 - |completion| tokens, at least one.
    const keep = Math.min(context.length, L + 1 - completion.length);
    return { context: context.slice(context.length - keep), completion, truncated: context.length - keep };
  });
  const out: ScoreCompletionsResult[] = [];
  const batch = 32;
  // All chunks are posted to the scoring worker at once, so a weight pin cannot fall between them.
  const version = host.scorerVersion;
  const lora = host.scorerLora;
  const chunks = [];
  for (let start = 0; start < pairs.length; start += batch) chunks.push(pairs.slice(start, start + batch));
  const runs = chunks.map((chunk) => {
    const B = chunk.length;
    // The last token of each sequence is a label only, never an input (so L + 1 tokens fit L positions).
    const T = Math.max(...chunk.map((p) => p.context.length + p.completion.length - 1));
    const ids = new BigInt64Array(B * T);
    const mask = new BigInt64Array(B * T);
    const labels = new BigInt64Array(B * T).fill(-100n);
    chunk.forEach((p, b) => {
      const seq = [...p.context, ...p.completion];
      seq.slice(0, -1).forEach((t, i) => ((ids[b * T + i] = BigInt(t)), (mask[b * T + i] = 1n)));
      for (let i = p.context.length - 1; i < seq.length - 1; i++) labels[b * T + i] = BigInt(seq[i + 1]!);
    });
    // Settled into values so a later chunk's failure is not an unhandled rejection while an earlier one is awaited.
    const run = host.scorer.run({ input_ids: { data: ids, dims: [B, T] }, attention_mask: { data: mask, dims: [B, T] }, labels: { data: labels, dims: [B, T] }, ...scorerAdapterFeeds(lora, adapter, B * T) }).then(
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
