// What every golden-parity test compares with: int64 input tensors and the scale-relative error.
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';

/** int64 [rows, cols] tensor of token ids, masks or labels. */
export const i64 = (rows: number[][]) => new ort.Tensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), [rows.length, rows[0]!.length]);

/** max |a − b| / max |b|: relative to the tensor's scale, so near-zero entries do not dominate. */
export function relErr(actual: ArrayLike<number>, expected: readonly number[]): number {
  assert.equal(actual.length, expected.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < expected.length; i++) {
    num = Math.max(num, Math.abs(Number(actual[i]) - expected[i]!));
    den = Math.max(den, Math.abs(expected[i]!));
  }
  return num / (den || 1);
}

/** What a training-graph golden case holds: the reference outputs and every weight's gradient. */
export interface TrainingGolden {
  loss: number;
  logits: number[];
  token_logprobs: number[];
  seq_logprobs?: number[];
  grads: Record<string, number[]>;
}

/**
 * Relative error of each training output (seq_logprobs where the graph kept it) and of every weight's
 * gradient (keyed `grad <name>`) against the golden case.
 */
export function trainingErrors(out: Record<string, ort.Tensor>, c: TrainingGolden, weights: readonly string[]): Record<string, number> {
  const data = (name: string) => out[name]!.data as Float32Array | Float64Array;
  const errors: Record<string, number> = {
    loss: relErr(data('loss'), [c.loss]),
    logits: relErr(data('logits'), c.logits),
    token_logprobs: relErr(data('token_logprobs'), c.token_logprobs),
  };
  if (out.seq_logprobs && c.seq_logprobs) errors.seq_logprobs = relErr(data('seq_logprobs'), c.seq_logprobs);
  for (const name of weights) errors[`grad ${name}`] = relErr(data(`grad.${name}`), c.grads[name]!);
  return errors;
}

/** The largest error and what it was of. */
export function worstOf(errors: Record<string, number>): [string, number] {
  return Object.entries(errors).sort((a, b) => b[1] - a[1])[0]!;
}
