// One finite-difference test per elementwise/linear-algebra rule. Unless stated: float64, central
// differences with eps 1e-5, accepted error |analytic - numeric| <= 1e-6 * (1 + |numeric|).
// Erf and Gelu run in float32 (ORT 1.30 has no double Erf kernel): eps 1e-2, tol 2e-2.
import { test } from 'node:test';
import { tensor } from '@juice/onnx';
import { expectGradients } from './check-helper.js';

const pos: [number, number] = [0.3, 1.5];

test('Add/Sub/Mul/Div with broadcasting (incl. [1] and leading axes)', async () => {
  await expectGradients({
    inputs: { a: { shape: [2, 3, 4] }, b: { shape: [3, 1] }, c: { shape: [1, 4], range: pos }, d: { shape: [4] } },
    build: (g, x) => g.div(g.mul(g.sub(g.add(x.a!, x.b!), x.d!), x.b!), x.c!),
  });
});

test('Neg, Sqrt, Reciprocal, Exp, Log, Abs', async () => {
  await expectGradients({
    inputs: { x: { shape: [3, 4], range: pos } },
    build: (g, x) => g.add(g.add(g.neg(g.sqrt(x.x!)), g.reciprocal(x.x!)), g.add(g.exp(x.x!), g.mul(g.log(x.x!), g.abs(g.sub(x.x!, 1))))),
  });
});

test('Pow with constant exponents (2, 3.5) and a tensor exponent', async () => {
  await expectGradients({
    inputs: { x: { shape: [2, 3], range: pos }, e: { shape: [3], range: [0.5, 2] } },
    build: (g, x) => g.add(g.add(g.pow(x.x!, 2), g.pow(x.x!, 3.5)), g.pow(x.x!, x.e!)),
  });
});

test('Tanh, Sigmoid, Relu', async () => {
  await expectGradients({
    inputs: { x: { shape: [4, 5], range: [-2, 2] } },
    build: (g, x) => g.add(g.mul(g.tanh(x.x!), g.sigmoid(x.x!)), g.relu(x.x!)),
  });
});

test('Erf (float32, tol 2e-2)', async () => {
  await expectGradients({ dtype: 'float32', inputs: { x: { shape: [3, 4], range: [-1.5, 1.5] } }, build: (g, x) => g.erf(x.x!) });
});

test('Gelu exact and tanh (float32, tol 2e-2)', async () => {
  await expectGradients({
    dtype: 'float32',
    inputs: { x: { shape: [3, 4], range: [-2, 2] } },
    build: (g, x) => g.add(g.gelu(x.x!), g.gelu(x.x!, 'tanh')),
  });
});

test('Where to both branches with broadcasting', async () => {
  await expectGradients({
    inputs: { a: { shape: [3, 4] }, b: { shape: [4] }, m: { shape: [3, 1], dtype: 'bool', values: [1, 0, 1] } },
    build: (g, x) => g.where(g.and(x.m!, g.greater(x.a!, 0)), x.a!, g.mul(x.b!, 3)),
  });
});

test('Cast through float32 and back (float64 graph; eps 1e-2, tol 1e-4: the float32 hop rounds)', async () => {
  await expectGradients({
    tol: 1e-4,
    eps: 1e-2,
    inputs: { x: { shape: [2, 3] } },
    build: (g, x) => g.mul(g.cast(g.mul(g.cast(x.x!, 'float32'), g.cast(x.x!, 'float32')), 'float64'), 2),
  });
});

test('Identity, Expand, Max/Min, Clip', async () => {
  await expectGradients({
    inputs: { a: { shape: [2, 3] }, b: { shape: [3] }, v: { shape: [1, 3] } },
    build: (g, x) => g.add(g.add(g.identity(g.max(x.a!, x.b!)), g.min(x.a!, g.expand(x.v!, [2, 3]))), g.clip(x.a!, -0.5, 0.5)),
  });
});

test('MatMul 2-D, batched with broadcast batch dims, and shared 2-D weight', async () => {
  await expectGradients({
    inputs: { a: { shape: [2, 3, 4] }, w: { shape: [4, 5] }, b: { shape: [1, 5, 2] }, m: { shape: [3, 4] } },
    build: (g, x) => g.add(g.matmul(g.matmul(g.add(x.a!, x.m!), x.w!), x.b!), g.matmul(g.matmul(x.m!, x.w!), g.reshape(x.b!, [5, 2]))),
  });
});

test('Gemm with transA/transB, alpha/beta and broadcast C', async () => {
  for (const [ta, tb] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
    await expectGradients({
      inputs: { a: { shape: ta ? [4, 3] : [3, 4] }, b: { shape: tb ? [5, 4] : [4, 5] }, c: { shape: [1, 5] } },
      build: (g, x) => g.gemm(x.a!, x.b!, x.c!, { transA: ta, transB: tb, alpha: 0.7, beta: 1.3 }),
    });
  }
});

test('Einsum with two operands', async () => {
  await expectGradients({
    inputs: { a: { shape: [2, 3, 4] }, b: { shape: [4, 5] } },
    build: (g, x) => g.einsum('bij,jk->bik', x.a!, x.b!),
  });
});

test('fan-out: one value used by several consumers accumulates', async () => {
  await expectGradients({
    inputs: { x: { shape: [3] }, k: { shape: [3], values: [1, 2, 3], wrt: false } },
    build: (g, x) => {
      const y = g.mul(x.x!, x.x!);
      return g.add(g.mul(y, x.x!), g.add(y, g.mul(x.k!, g.constant(tensor('float64', [3], [1, 1, 1])))));
    },
  });
});
