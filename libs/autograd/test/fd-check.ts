// Finite-difference gradient checker: analytic gradients from grad() against central differences of
// the forward graph, both run on onnxruntime-node. The tested value is contracted with a random
// projection so every element of its gradient is exercised: loss = sum(out * proj).
import * as ort from 'onnxruntime-node';
import { GraphBuilder, isStatic, toModelBytes, type DType, type Dim, type Graph, type Value } from '@juice/onnx';
import { forwardOnly, grad } from '../src/index.js';

export interface InputSpec {
  /** Graph shape (may be symbolic). */
  shape: Dim[];
  /** Run-time dims (defaults to shape when static). */
  dims?: number[];
  dtype?: DType;
  /** Fixed values (indices, labels); otherwise uniform random in `range`. */
  values?: number[];
  range?: [number, number];
  /** Differentiate w.r.t. this input (default: floating-point inputs without fixed values). */
  wrt?: boolean;
}

export interface CheckSpec {
  /** Floating dtype of the random inputs (default float64). */
  dtype?: 'float64' | 'float32';
  inputs: Record<string, InputSpec>;
  build: (g: GraphBuilder, x: Record<string, Value>) => Value;
  /** Central-difference step (default 1e-5 in float64, 1e-2 in float32). */
  eps?: number;
  /** Accepted |analytic - numeric| <= tol * (1 + |numeric|) (default 1e-6 in float64, 2e-2 in float32). */
  tol?: number;
  seed?: number;
}

export interface CheckResult {
  maxErr: number;
  tol: number;
  worst?: { input: string; index: number; analytic: number; numeric: number };
  gradGraph: Graph;
}

function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function ortTensor(dtype: DType, dims: number[], values: ArrayLike<number>): ort.Tensor {
  switch (dtype) {
    case 'float64': return new ort.Tensor('float64', Float64Array.from(values), dims);
    case 'float32': return new ort.Tensor('float32', Float32Array.from(values), dims);
    case 'int64': return new ort.Tensor('int64', BigInt64Array.from(Array.from(values, (v) => BigInt(v))), dims);
    case 'int32': return new ort.Tensor('int32', Int32Array.from(values), dims);
    case 'bool': return new ort.Tensor('bool', Uint8Array.from(values), dims);
    default: throw new Error(`fd-check: unsupported input dtype ${dtype}`);
  }
}

async function open(graph: Graph) {
  return ort.InferenceSession.create(toModelBytes(graph), { graphOptimizationLevel: 'basic', enableMemPattern: false });
}

export async function checkGradients(spec: CheckSpec): Promise<CheckResult> {
  const dtype = spec.dtype ?? 'float64';
  const eps = spec.eps ?? (dtype === 'float64' ? 1e-5 : 1e-2);
  const tol = spec.tol ?? (dtype === 'float64' ? 1e-6 : 2e-2);
  const rand = rng(spec.seed ?? 1234);

  const g = new GraphBuilder('fd');
  const xs: Record<string, Value> = {};
  for (const [name, s] of Object.entries(spec.inputs)) xs[name] = g.input(name, s.dtype ?? dtype, s.shape);
  const out = spec.build(g, xs);
  if (out.dtype !== dtype) throw new Error(`fd-check: output ${out.name} is ${out.dtype}, expected ${dtype}`);
  const proj = g.input('__proj', dtype, out.shape);
  const loss = g.output(g.reduceSum(g.mul(out, proj), undefined, false), 'loss');
  const forward = g.build();

  const feeds: Record<string, { dtype: DType; dims: number[]; data: number[] }> = {};
  for (const [name, s] of Object.entries(spec.inputs)) {
    const dims = s.dims ?? (isStatic(s.shape) ? [...s.shape] : undefined);
    if (!dims) throw new Error(`fd-check: input ${name} has a symbolic shape; give its run-time dims`);
    const n = dims.reduce((a, b) => a * b, 1);
    const [lo, hi] = s.range ?? [-1, 1];
    feeds[name] = { dtype: s.dtype ?? dtype, dims, data: s.values ?? Array.from({ length: n }, () => lo + (hi - lo) * rand()) };
  }
  const toOrt = (f: Record<string, { dtype: DType; dims: number[]; data: number[] }>) =>
    Object.fromEntries(Object.entries(f).map(([k, v]) => [k, ortTensor(v.dtype, v.dims, v.data)]));

  // Probe the output's run-time shape to draw the projection.
  const probe = await open(forwardOnly(forward, [out.name], { pruneInputs: true }));
  const outDims = [...(await probe.run(toOrt(feeds)))[out.name]!.dims];
  await probe.release();
  const nOut = outDims.reduce((a, b) => a * b, 1);
  feeds.__proj = { dtype, dims: outDims, data: Array.from({ length: nOut }, () => rand() * 2 - 1) };

  const wrt = Object.entries(spec.inputs).filter(([, s]) => s.wrt ?? (s.values === undefined && (s.dtype ?? dtype).startsWith('float'))).map(([k]) => k);
  const gradGraph = grad(forward, { loss: loss.name, wrt });
  const gs = await open(gradGraph);
  const analytic = await gs.run(toOrt(feeds));
  await gs.release();

  const fs = await open(forwardOnly(forward, [loss.name]));
  const lossAt = async (f: typeof feeds) => Number((await fs.run(toOrt(f)))[loss.name]!.data[0]);
  let maxErr = 0;
  let worst: CheckResult['worst'];
  for (const name of wrt) {
    const base = feeds[name]!;
    const a = analytic[`grad.${name}`]!.data as Float64Array | Float32Array;
    for (let i = 0; i < base.data.length; i++) {
      const plus = [...base.data];
      plus[i]! += eps;
      const minus = [...base.data];
      minus[i]! -= eps;
      const lp = await lossAt({ ...feeds, [name]: { ...base, data: plus } });
      const lm = await lossAt({ ...feeds, [name]: { ...base, data: minus } });
      const numeric = (lp - lm) / (2 * eps);
      const err = Math.abs(a[i]! - numeric) / (1 + Math.abs(numeric));
      if (err > maxErr || Number.isNaN(err)) {
        maxErr = Number.isNaN(err) ? Infinity : err;
        worst = { input: name, index: i, analytic: a[i]!, numeric };
      }
    }
  }
  await fs.release();
  return { maxErr, tol, worst, gradGraph };
}
