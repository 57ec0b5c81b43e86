// Test helper: run a Graph on onnxruntime-node and return outputs as plain number arrays.
import * as ort from 'onnxruntime-node';
import { toModelBytes, type Graph } from '../src/index.js';

export type Feed = ort.Tensor;

export function f32(dims: number[], data: ArrayLike<number>): ort.Tensor {
  return new ort.Tensor('float32', Float32Array.from(data), dims);
}
export function f64(dims: number[], data: ArrayLike<number>): ort.Tensor {
  return new ort.Tensor('float64', Float64Array.from(data), dims);
}
export function i64(dims: number[], data: ArrayLike<number>): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(Array.from(data, (x) => BigInt(x))), dims);
}

export async function session(graph: Graph): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(toModelBytes(graph), { graphOptimizationLevel: 'basic', enableMemPattern: false });
}

export interface Out { dims: number[]; data: number[] }

export async function run(graph: Graph, feeds: Record<string, ort.Tensor>): Promise<Record<string, Out>> {
  const s = await session(graph);
  try {
    const r = await s.run(feeds);
    const out: Record<string, Out> = {};
    for (const [k, t] of Object.entries(r)) {
      out[k] = { dims: [...t.dims], data: Array.from(t.data as ArrayLike<number | bigint | boolean>, (v) => Number(v)) };
    }
    return out;
  } finally {
    await s.release();
  }
}

export function close(actual: readonly number[], expected: readonly number[], tol = 1e-5): void {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (!(Math.abs(a - e) <= tol * (1 + Math.abs(e)))) {
      throw new Error(`element ${i}: ${a} != ${e} (tol ${tol})\nactual   ${actual.slice(0, 16).join(', ')}\nexpected ${expected.slice(0, 16).join(', ')}`);
    }
  }
}
