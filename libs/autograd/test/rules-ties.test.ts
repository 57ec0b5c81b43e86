// Gradient rules at their non-smooth points (ties, zeros, bounds, zero bases) against PyTorch autograd:
// golden/make_ties.py evaluates the torch function that defines each convention and writes the
// gradients of sum(out * projection) to golden/ties.json. Finite differences cannot check these points
// (the two one-sided derivatives differ), so the convention itself is the reference: torch's.
// float64; finite values must agree within 1e-12 (relative to the tensor's scale), non-finite ones exactly.
//
// Rules with no non-smooth point of their own, and why they are not here: Where (its condition carries no
// gradient; each branch gets dY or 0), Sigmoid/Tanh/Exp/Erf/Gelu/Softmax/LogSoftmax/LayerNormalization/
// SoftmaxCrossEntropyLoss (smooth), Log/Reciprocal/Div at 0 (dY/x → ±∞, as torch's formulas), and the
// integer-valued ArgMax/TopK indices (no gradient flows through an int64 value: grad() stops there).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { GraphBuilder, toModelBytes, type Value } from '@juice/onnx';
import { grad } from '../src/index.js';

type Num = number | 'inf' | '-inf' | 'nan';
interface Case {
  name: string;
  reference: string;
  inputs: Record<string, { shape: number[]; data: Num[] }>;
  grad: string[];
  projection: Num[];
  output: Num[];
  grads: Record<string, Num[]>;
}

const golden = JSON.parse(readFileSync(new URL('./golden/ties.json', import.meta.url), 'utf8')) as { cases: Case[] };
const num = (v: Num): number => (v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v === 'nan' ? NaN : v);

/** The juice graph of each golden case, by the case's name (the same maths as its torch function). */
const builders: Record<string, (g: GraphBuilder, x: Record<string, Value>) => Value> = {
  'Max(a, b) with ties': (g, x) => g.max(x.a!, x.b!),
  'Min(a, b) with ties': (g, x) => g.min(x.a!, x.b!),
  'Max(a, b, c) with 2- and 3-way ties': (g, x) => g.op('Max', [x.a!, x.b!, x.c!]),
  'Min(a, b, c) with 2- and 3-way ties': (g, x) => g.op('Min', [x.a!, x.b!, x.c!]),
  'ReduceMax axis 1 with tied maxima': (g, x) => g.reduceMax(x.x!, [1], false),
  'ReduceMax over all axes with tied maxima': (g, x) => g.reshape(g.reduceMax(x.x!, undefined, false), [1]),
  'ReduceMin axis 0 keepdims with tied minima': (g, x) => g.op('ReduceMin', [x.x!, g.ints([0])], { keepdims: 1 }),
  'Relu at 0': (g, x) => g.relu(x.x!),
  'Abs at 0': (g, x) => g.abs(x.x!),
  'Clip on its constant bounds': (g, x) => g.clip(x.x!, -0.5, 0.5),
  'Clip with min only, on the bound': (g, x) => g.clip(x.x!, 0.25),
  'Clip with tensor bounds: gradients of x, min and max': (g, x) => g.op('Clip', [x.x!, x.lo!, x.hi!]),
  'Clip with min > max': (g, x) => g.op('Clip', [x.x!, x.lo!, x.hi!]),
  'Pow with constant exponents 0, 2, 3, 0.5 at base 0': (g, x) =>
    g.add(g.add(g.pow(x.x!, 0), g.pow(x.x!, 2)), g.add(g.pow(x.x!, 3), g.pow(x.x!, 0.5))),
  'Pow with a tensor exponent at base 0 and exponent 0': (g, x) => g.pow(x.a!, x.b!),
  'Sqrt at 0': (g, x) => g.sqrt(x.x!),
};

/** Non-finite entries must match exactly (same infinity, NaN for NaN); finite ones within tol of the scale. */
function compare(what: string, actual: ArrayLike<number>, expected: readonly Num[], tol = 1e-12): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const want = expected.map(num);
  const scale = Math.max(1, ...want.filter(Number.isFinite).map(Math.abs));
  for (let i = 0; i < want.length; i++) {
    const [a, e] = [Number(actual[i]), want[i]!];
    if (!Number.isFinite(e)) assert.ok(Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e)), `${what}[${i}]: ${a}, torch ${e}`);
    else assert.ok(Math.abs(a - e) <= tol * scale, `${what}[${i}]: ${a}, torch ${e} (all: ${Array.from(actual).join(', ')})`);
  }
}

test('every golden case has a juice graph and every builder a golden case', () => {
  assert.deepEqual(golden.cases.map((c) => c.name).sort(), Object.keys(builders).sort());
});

for (const c of golden.cases) {
  test(`${c.name}: output and gradients match torch (${c.reference})`, async () => {
    const g = new GraphBuilder('ties');
    const x: Record<string, Value> = {};
    for (const [name, v] of Object.entries(c.inputs)) x[name] = g.input(name, 'float64', v.shape);
    const out = builders[c.name]!(g, x);
    g.output(out, 'out');
    const proj = g.input('proj', 'float64', out.shape);
    g.output(g.reduceSum(g.mul(out, proj), undefined, false), 'loss');
    const graph = grad(g.build(), { loss: 'loss', wrt: c.grad, keepOutputs: ['out'] });
    const session = await ort.InferenceSession.create(toModelBytes(graph), { graphOptimizationLevel: 'disabled' });
    const feeds: Record<string, ort.Tensor> = { proj: new ort.Tensor('float64', Float64Array.from(c.projection.map(num)), [...out.shape] as number[]) };
    for (const [name, v] of Object.entries(c.inputs)) feeds[name] = new ort.Tensor('float64', Float64Array.from(v.data.map(num)), v.shape);
    const r = await session.run(feeds);
    await session.release();
    compare('output', r.out!.data as Float64Array, c.output);
    for (const name of c.grad) compare(`grad ${name}`, r[`grad.${name}`]!.data as Float64Array, c.grads[name]!);
  });
}
