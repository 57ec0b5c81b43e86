// Gradient rules of the onnxruntime contrib ops (float32-only kernels). Two checks each: central
// differences in float32 (coarse: eps 1e-2), and parity with the same function written in standard
// ops, differentiated and run in float64 by rules that are themselves checked to 1e-6 — the float32
// contrib gradient must match that to float32 rounding (2e-5 relative).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { GraphBuilder, fusedMatmul, rotaryEmbedding, simplifiedLayerNorm, skipSimplifiedLayerNorm, toModelBytes, type Value } from '@juice/onnx';
import { grad } from '../src/index.js';
import { expectGradients } from './check-helper.js';

type Inputs = Record<string, { shape: number[]; int?: boolean; values?: number[] }>;
type Build = (g: GraphBuilder, x: Record<string, Value>, dtype: 'float32' | 'float64') => Value;

function rng(seed: number) {
  let a = seed >>> 0;
  return () => ((a = (Math.imul(a, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

/** Max relative difference of every gradient: contrib graph (float32) vs standard-op graph (float64). */
async function parity(inputs: Inputs, contrib: Build, reference: Build): Promise<number> {
  const rand = rng(7);
  const data = Object.fromEntries(Object.entries(inputs).map(([k, s]) => [k, s.values ?? Array.from({ length: s.shape.reduce((a, b) => a * b, 1) }, rand)]));
  const outN = new Map<string, number>();
  const run = async (build: Build, dtype: 'float32' | 'float64') => {
    const g = new GraphBuilder('p');
    const xs = Object.fromEntries(Object.entries(inputs).map(([k, s]) => [k, g.input(k, s.int ? 'int64' : dtype, s.shape)]));
    const y = build(g, xs, dtype);
    const proj = g.input('proj', dtype, y.shape);
    g.output(g.reduceSum(g.mul(y, proj), undefined, false), 'loss');
    const wrt = Object.keys(inputs).filter((k) => !inputs[k]!.int);
    const s = await ort.InferenceSession.create(toModelBytes(grad(g.build(), { loss: 'loss', wrt })), { graphOptimizationLevel: 'basic' });
    const n = (y.shape as number[]).reduce((a, b) => a * b, 1);
    outN.set('proj', n);
    const pr = rng(11);
    const feeds: Record<string, ort.Tensor> = { proj: new ort.Tensor(dtype, dtype === 'float32' ? Float32Array.from({ length: n }, pr) : Float64Array.from({ length: n }, pr), y.shape as number[]) };
    for (const [k, s] of Object.entries(inputs)) {
      feeds[k] = s.int ? new ort.Tensor('int64', BigInt64Array.from(data[k]!.map(BigInt)), s.shape) : new ort.Tensor(dtype, dtype === 'float32' ? Float32Array.from(data[k]!) : Float64Array.from(data[k]!), s.shape);
    }
    const out = await s.run(feeds);
    await s.release();
    return Object.fromEntries(wrt.map((k) => [k, out[`grad.${k}`]!.data as Float32Array | Float64Array]));
  };
  const [a, b] = [await run(contrib, 'float32'), await run(reference, 'float64')];
  let worst = 0;
  for (const k of Object.keys(b)) {
    const scale = Math.max(...Array.from(b[k]!, Math.abs));
    for (let i = 0; i < b[k]!.length; i++) worst = Math.max(worst, Math.abs(a[k]![i]! - b[k]![i]!) / scale);
  }
  return worst;
}

function rmsRef(g: GraphBuilder, x: Value, w: Value, eps: number, dtype: 'float32' | 'float64'): Value {
  const r = g.reciprocal(g.sqrt(g.add(g.reduceMean(g.mul(x, x), [-1], true), g.scalar(eps, dtype))));
  return g.mul(g.mul(x, r), w);
}

test('FusedMatMul: every transA/transB, alpha, batch broadcast', async () => {
  for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
    const a = ta ? [2, 1, 4, 3] : [2, 1, 3, 4];
    const b = tb ? [3, 5, 4] : [3, 4, 5];
    const swap = (g: GraphBuilder, v: Value, t: boolean) => (t ? g.transpose(v, [...Array.from({ length: v.rank - 2 }, (_, i) => i), v.rank - 1, v.rank - 2]) : v);
    const err = await parity({ a: { shape: a }, b: { shape: b } },
      (g, x) => fusedMatmul(g, x.a!, x.b!, { transA: ta, transB: tb, alpha: 0.7 }),
      (g, x, dt) => g.mul(g.matmul(swap(g, x.a!, ta), swap(g, x.b!, tb)), g.scalar(0.7, dt)));
    assert.ok(err < 2e-5, `transA ${ta} transB ${tb}: ${err}`);
    await expectGradients({ dtype: 'float32', inputs: { a: { shape: a }, b: { shape: b } }, build: (g, x) => fusedMatmul(g, x.a!, x.b!, { transA: ta, transB: tb, alpha: 0.7 }) });
  }
});

test('SimplifiedLayerNormalization (RMSNorm), incl. rows near zero', async () => {
  const x = Array.from({ length: 4 * 6 }, (_, i) => (i < 6 ? 1e-3 * Math.sin(i) : Math.sin(i * 1.3)));
  const err = await parity({ x: { shape: [4, 6], values: x }, w: { shape: [6] } },
    (g, v) => simplifiedLayerNorm(g, v.x!, v.w!, 1e-5)[0],
    (g, v, dt) => rmsRef(g, v.x!, v.w!, 1e-5, dt));
  assert.ok(err < 2e-5, `${err}`);
  await expectGradients({ dtype: 'float32', inputs: { x: { shape: [3, 2, 5] }, w: { shape: [5] } }, build: (g, v) => simplifiedLayerNorm(g, v.x!, v.w!, 1e-5)[0] });
});

test('SkipSimplifiedLayerNormalization: gradients through the norm and the residual sum', async () => {
  const err = await parity({ x: { shape: [5, 8] }, s: { shape: [5, 8] }, w: { shape: [8] } },
    (g, v) => {
      const [y, , sum] = skipSimplifiedLayerNorm(g, v.x!, v.s!, v.w!, 1e-6);
      return g.add(y, g.mul(sum, sum));
    },
    (g, v, dt) => {
      const sum = g.add(v.x!, v.s!);
      return g.add(rmsRef(g, sum, v.w!, 1e-6, dt), g.mul(sum, sum));
    });
  assert.ok(err < 2e-5, `${err}`);
  // Only the normalised output used (no gradient arrives at the sum output).
  const err2 = await parity({ x: { shape: [5, 8] }, s: { shape: [5, 8] }, w: { shape: [8] } },
    (g, v) => skipSimplifiedLayerNorm(g, v.x!, v.s!, v.w!, 1e-6)[0],
    (g, v, dt) => rmsRef(g, g.add(v.x!, v.s!), v.w!, 1e-6, dt));
  assert.ok(err2 < 2e-5, `${err2}`);
});

test('RotaryEmbedding: the adjoint rotation (sine negated)', async () => {
  const B = 2, T = 3, H = 2, d = 8;
  const angles = Array.from({ length: B * T * (d / 2) }, (_, i) => 0.37 * i);
  const cos = angles.map(Math.cos), sin = angles.map(Math.sin);
  const inputs: Inputs = {
    x: { shape: [B, T, H * d] },
    pos: { shape: [B, T], int: true, values: Array.from({ length: B * T }, (_, i) => i) },
  };
  const err = await parity(inputs,
    (g, v) => {
      const c = g.constant({ dtype: 'float32', dims: [B * T, d / 2], data: new Uint8Array(Float32Array.from(cos).buffer) });
      const s = g.constant({ dtype: 'float32', dims: [B * T, d / 2], data: new Uint8Array(Float32Array.from(sin).buffer) });
      return rotaryEmbedding(g, v.x!, v.pos!, c, s, H);
    },
    (g, v) => {
      // x·cos + rotate_half(x)·sin per head, with the tables repeated over both halves.
      const table = (t: number[]) => g.constant({ dtype: 'float64', dims: [B, T, 1, d], data: new Uint8Array(Float64Array.from({ length: B * T * d }, (_, i) => t[Math.floor(i / d) * (d / 2) + (i % (d / 2))]!).buffer) });
      const x4 = g.reshape(v.x!, [B, T, H, d]);
      const [x1, x2] = g.split(x4, [d / 2, d / 2], 3);
      const rot = g.concat([g.neg(x2!), x1!], 3);
      return g.reshape(g.add(g.mul(x4, table(cos)), g.mul(rot, table(sin))), [B, T, H * d]);
    });
  assert.ok(err < 2e-5, `${err}`);
});
