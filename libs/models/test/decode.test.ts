// KV-cache generation graphs against the full-sequence forward: prefill of a prompt and one decode step
// per further token must give the same logits as running the whole sequence at once — with GQA, Qwen2
// biases, rows of different lengths in one batch, and cache slots that are masked out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { toModelBytes } from '@juice/onnx';
import { buildCausalLm, buildGenerationGraphs, initParameters, type ModelConfig } from '../src/index.js';

const base: ModelConfig = {
  architecture: 'llama', vocabSize: 41, hiddenSize: 24, intermediateSize: 40, numLayers: 2, numHeads: 6, numKvHeads: 2,
  headDim: 4, rmsNormEps: 1e-6, ropeTheta: 10000, maxPositions: 64, tieWordEmbeddings: false, qkvBias: false,
};
const i64 = (data: number[], dims: number[]) => new ort.Tensor('int64', BigInt64Array.from(data.map(BigInt)), dims);

const neox: ModelConfig = { ...base, architecture: 'gpt_neox', numKvHeads: 6, qkvBias: true, rotaryDims: 2, parallelResidual: true, layerNormEps: 1e-5 };
for (const config of [base, { ...base, architecture: 'qwen2', qkvBias: true, tieWordEmbeddings: true } as ModelConfig, neox]) {
  test(`${config.architecture}: prefill + decode steps reproduce the full-sequence logits`, async () => {
    const params = initParameters(config, 3, 0.2);
    const weights: Record<string, ort.Tensor> = {};
    for (const e of params.entries) weights[e.name] = new ort.Tensor('float64', Float64Array.from(params.view(e.name)), e.shape as number[]);
    const open = (g: Parameters<typeof toModelBytes>[0]) => ort.InferenceSession.create(toModelBytes(g), { graphOptimizationLevel: 'basic' });
    const full = await open(buildCausalLm(config, { dtype: 'float64', logits: true }).graph);
    const { prefill, decode } = buildGenerationGraphs(config, 'float64');
    const pre = await open(prefill);
    const dec = await open(decode);

    const rows = [[5, 9, 1, 33, 7, 2, 18, 4, 30], [12, 3, 40, 8, 21, 6, 11]];
    const promptLens = [3, 5];
    const V = config.vocabSize;
    const L = config.numLayers;
    const Hkv = config.numKvHeads;
    const d = config.headDim;

    // Reference: each row alone through the training forward.
    const ref = await Promise.all(rows.map(async (r) => {
      const out = await full.run({ ...weights, input_ids: i64(r, [1, r.length]), attention_mask: i64(r.map(() => 1), [1, r.length]), labels: i64(r.map(() => -100), [1, r.length]) });
      return out.logits!.data as Float64Array;
    }));

    // Prefill both prompts as one right-padded batch.
    const T = Math.max(...promptLens);
    const ids: number[] = [];
    const mask: number[] = [];
    rows.forEach((r, b) => {
      for (let t = 0; t < T; t++) {
        ids.push(t < promptLens[b]! ? r[t]! : 0);
        mask.push(t < promptLens[b]! ? 1 : 0);
      }
    });
    const p = await pre.run({ ...weights, input_ids: i64(ids, [2, T]), attention_mask: i64(mask, [2, T]) });
    let maxErr = 0;
    const check = (logits: Float64Array, b: number, refPos: number) => {
      for (let v = 0; v < V; v++) maxErr = Math.max(maxErr, Math.abs(logits[b * V + v]! - ref[b]![refPos * V + v]!));
    };
    rows.forEach((_, b) => check(p.logits!.data as Float64Array, b, promptLens[b]! - 1));

    // A cache with spare capacity: slots beyond each row's length hold garbage and are masked.
    const P = 16;
    const cache = Array.from({ length: L }, () => ({ k: new Float64Array(2 * Hkv * P * d).fill(123), v: new Float64Array(2 * Hkv * P * d).fill(-77) }));
    const len = [...promptLens];
    for (let i = 0; i < L; i++) {
      const pk = p[`present.${i}.key`]!.data as Float64Array;
      const pv = p[`present.${i}.value`]!.data as Float64Array;
      for (let b = 0; b < 2; b++) for (let h = 0; h < Hkv; h++) for (let t = 0; t < len[b]!; t++) {
        cache[i]!.k.set(pk.subarray(((b * Hkv + h) * T + t) * d, ((b * Hkv + h) * T + t + 1) * d), ((b * Hkv + h) * P + t) * d);
        cache[i]!.v.set(pv.subarray(((b * Hkv + h) * T + t) * d, ((b * Hkv + h) * T + t + 1) * d), ((b * Hkv + h) * P + t) * d);
      }
    }
    // Decode the remaining tokens of each row, both rows in every step (a finished row just repeats).
    for (let step = 0; step < 4; step++) {
      const tok = rows.map((r, b) => r[Math.min(len[b]!, r.length - 1)]!);
      const pastMask = rows.flatMap((_, b) => Array.from({ length: P }, (_, t) => (t < len[b]! ? 1 : 0)));
      const feeds: Record<string, ort.Tensor> = { ...weights, input_ids: i64(tok, [2, 1]), position_ids: i64(len, [2, 1]), past_mask: i64(pastMask, [2, P]) };
      for (let i = 0; i < L; i++) {
        feeds[`past.${i}.key`] = new ort.Tensor('float64', cache[i]!.k, [2, Hkv, P, d]);
        feeds[`past.${i}.value`] = new ort.Tensor('float64', cache[i]!.v, [2, Hkv, P, d]);
      }
      const out = await dec.run(feeds);
      rows.forEach((r, b) => {
        if (len[b]! < r.length) check(out.logits!.data as Float64Array, b, len[b]!);
      });
      for (let i = 0; i < L; i++) {
        const nk = out[`new.${i}.key`]!.data as Float64Array;
        const nv = out[`new.${i}.value`]!.data as Float64Array;
        for (let b = 0; b < 2; b++) for (let h = 0; h < Hkv; h++) {
          cache[i]!.k.set(nk.subarray((b * Hkv + h) * d, (b * Hkv + h + 1) * d), ((b * Hkv + h) * P + len[b]!) * d);
          cache[i]!.v.set(nv.subarray((b * Hkv + h) * d, (b * Hkv + h + 1) * d), ((b * Hkv + h) * P + len[b]!) * d);
        }
      }
      for (let b = 0; b < 2; b++) if (len[b]! < rows[b]!.length) len[b]!++;
    }
    assert.ok(maxErr < 1e-10, `max |decode − full| = ${maxErr}`);
    for (const s of [full, pre, dec]) await s.release();
  });
}
