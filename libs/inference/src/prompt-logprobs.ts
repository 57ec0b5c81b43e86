// Generate's prompt_logprobs (vLLM semantics): the log-prob of each prompt token given the tokens
// before it, from the raw distribution; the first token has no context and reports 0. The generation
// engine's prefill only keeps the last position's logits, so the prompt is scored by one teacher-forced
// pass of the scoring session instead (the same graph and kernels as ScoreCompletions, so the two
// agree exactly for the same tokens).
import { scorerAdapterFeeds, type ServedLm } from './served-lm.js';

export interface PromptScoring {
  /** The weight version the scoring worker held when the pass was posted (the one it runs on). */
  version: bigint;
  /** Per prompt: one log-prob per prompt token, entry 0 = 0. */
  logprobs: Promise<number[][]>;
}

const BATCH = 32;

/**
 * Posts the scoring passes synchronously, so they run on the weights the scorer holds now: a caller
 * that submits its samples to the engine in the same tick gets both from one weight version (a weight
 * push hands new weights to both workers in one tick too). The returned promise never rejects
 * unobserved: callers await it after their samples.
 */
export function scorePrompts(host: Pick<ServedLm, 'scorer' | 'scorerVersion' | 'scorerLora'>, prompts: readonly (readonly number[])[], adapter = ''): PromptScoring {
  const version = host.scorerVersion;
  const lora = host.scorerLora;
  const runs: Promise<number[][]>[] = [];
  for (let start = 0; start < prompts.length; start += BATCH) {
    const chunk = prompts.slice(start, start + BATCH);
    const B = chunk.length;
    const T = Math.max(...chunk.map((p) => p.length));
    const ids = new BigInt64Array(B * T);
    const mask = new BigInt64Array(B * T);
    const labels = new BigInt64Array(B * T).fill(-100n);
    chunk.forEach((p, b) => {
      p.forEach((t, i) => ((ids[b * T + i] = BigInt(t)), (mask[b * T + i] = 1n)));
      // Position i predicts token i+1 (labels are pre-shifted); the last position predicts nothing.
      for (let i = 0; i < p.length - 1; i++) labels[b * T + i] = BigInt(p[i + 1]!);
    });
    const run = host.scorer.run({ input_ids: { data: ids, dims: [B, T] }, attention_mask: { data: mask, dims: [B, T] }, labels: { data: labels, dims: [B, T] }, ...scorerAdapterFeeds(lora, adapter, B * T) }, ['token_logprobs']);
    runs.push(
      run.then((res) => {
        const lp = res.token_logprobs!.data as Float32Array;
        return chunk.map((p, b) => [0, ...Array.from(lp.subarray(b * T, b * T + p.length - 1))]);
      }),
    );
  }
  const logprobs = Promise.all(runs).then((parts) => parts.flat());
  // Observed here so a failure while the caller still awaits its samples is not an unhandled rejection.
  logprobs.catch(() => {});
  return { version, logprobs };
}
