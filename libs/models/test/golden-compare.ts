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
