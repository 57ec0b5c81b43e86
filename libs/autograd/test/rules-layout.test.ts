// One finite-difference test per shape/reduction/normalisation rule: float64, eps 1e-5,
// |analytic - numeric| <= 1e-6 * (1 + |numeric|) unless stated.
import { test } from 'node:test';
import { expectGradients } from './check-helper.js';

test('Reshape (0, -1), Transpose, Unsqueeze, Squeeze', async () => {
  await expectGradients({
    inputs: { x: { shape: [2, 3, 4] } },
    build: (g, x) => g.squeeze(g.unsqueeze(g.transpose(g.reshape(x.x!, [0, -1]), [1, 0]), [0, 2]), [0]),
  });
});

test('ReduceSum / ReduceMean (keepdims 0/1, all axes), ReduceSumSquare, ReduceMax', async () => {
  await expectGradients({
    inputs: { x: { shape: [2, 3, 4] } },
    build: (g, x) => {
      const a = g.reduceSum(x.x!, [2], false);
      const b = g.reduceMean(x.x!, [0, -1], true);
      const c = g.reduceSumSquare(x.x!, [2], false);
      const d = g.reduceMax(x.x!, [2], false);
      const e = g.reduceMean(x.x!, undefined, false);
      const f = g.reduceMax(x.x!, [1], true);
      return g.add(g.add(g.add(g.add(a, g.reshape(b, [1, 3])), g.mul(c, d)), e), g.reduceSum(f, [2], false));
    },
  });
});

test('Softmax and LogSoftmax on inner and outer axes', async () => {
  await expectGradients({
    inputs: { x: { shape: [2, 3, 4] } },
    build: (g, x) => g.add(g.softmax(x.x!, -1), g.logSoftmax(x.x!, 1)),
  });
});

test('Concat, Split (incl. an unused output)', async () => {
  await expectGradients({
    inputs: { a: { shape: [2, 3] }, b: { shape: [2, 1] }, c: { shape: [2, 2] } },
    build: (g, x) => {
      const cat = g.concat([x.a!, x.b!, x.c!], 1);
      const [p, , r] = g.split(cat, [2, 3, 1], 1);
      return g.concat([g.mul(p!, 2), r!], 1);
    },
  });
});

test('Slice: unit steps (Pad path), negative steps and symbolic dims (scatter path)', async () => {
  await expectGradients({
    inputs: { x: { shape: [4, 5] }, y: { shape: ['T', 3], dims: [4, 3] } },
    build: (g, x) => {
      const a = g.slice(x.x!, [1, -4], [3, 4], [0, 1]);
      const b = g.slice(x.x!, [3, 4], [0, 0], [0, 1], [-2, -2]);
      const c = g.slice(x.y!, [1], [3], [0]);
      return g.add(g.concat([a, b], 1), g.slice(g.concat([c, c], 1), [1], [6], [1]));
    },
  });
});

test('Gather axis 0 with repeated ids (embedding) and scalar index on axis 1', async () => {
  await expectGradients({
    inputs: {
      table: { shape: [5, 3] },
      ids: { shape: [2, 3], dtype: 'int64', values: [1, 1, 4, 0, 1, -1] },
      h: { shape: [2, 4, 3] },
    },
    build: (g, x) => {
      const e = g.gather(x.table!, x.ids!);
      const last = g.gather(x.h!, g.constant({ dtype: 'int64', dims: [], data: new Uint8Array(new BigInt64Array([-1n]).buffer) }), 1);
      return g.add(e, g.unsqueeze(last, [1]));
    },
  });
});

test('GatherElements with repeated indices', async () => {
  await expectGradients({
    inputs: { x: { shape: [3, 4] }, i: { shape: [3, 2], dtype: 'int64', values: [0, 0, 3, 1, 2, 2] } },
    build: (g, x) => g.gatherElements(x.x!, x.i!, 1),
  });
});

test('Trilu and CumSum', async () => {
  await expectGradients({
    inputs: { x: { shape: [3, 3] } },
    build: (g, x) => g.add(g.trilu(x.x!, false), g.cumsum(g.trilu(x.x!, true, 1), 1, { reverse: true })),
  });
});

test('LayerNormalization: x, scale, bias (tol 1e-5: Mean/InvStdDev are float32 even for double)', async () => {
  await expectGradients({
    tol: 1e-5,
    inputs: { x: { shape: [2, 3, 4] }, s: { shape: [4] }, b: { shape: [4] } },
    build: (g, x) => g.layerNorm(x.x!, x.s!, x.b!, { epsilon: 1e-5 })[0],
  });
  // Without requested statistics outputs (the rule adds them) and over the last two axes.
  await expectGradients({
    tol: 1e-5,
    inputs: { x: { shape: [2, 3, 4] }, s: { shape: [3, 4] } },
    build: (g, x) => g.op('LayerNormalization', [x.x!, x.s!], { axis: 1 }),
  });
});

test('SoftmaxCrossEntropyLoss mean with ignore_index, plus its log_prob output', async () => {
  await expectGradients({
    inputs: { z: { shape: [4, 5] }, y: { shape: [4], dtype: 'int64', values: [1, -100, 4, 1] } },
    build: (g, x) => {
      const [loss, logp] = g.softmaxCrossEntropyLoss(x.z!, x.y!, { ignoreIndex: -100 });
      return g.add(loss, g.reduceSum(g.mul(logp, 0.1), undefined, false));
    },
  });
});

test('SoftmaxCrossEntropyLoss on [N, C, T] with sum, none and class weights', async () => {
  await expectGradients({
    inputs: {
      z: { shape: [2, 3, 4] },
      y: { shape: [2, 4], dtype: 'int64', values: [0, 1, 2, 2, 1, 1, -1, 0] },
      w: { shape: [3], range: [0.5, 2], wrt: false },
    },
    build: (g, x) => {
      const [a] = g.softmaxCrossEntropyLoss(x.z!, x.y!, { reduction: 'sum', ignoreIndex: -1 });
      const [b] = g.softmaxCrossEntropyLoss(x.z!, x.y!, { reduction: 'none', ignoreIndex: -1 });
      const [c] = g.softmaxCrossEntropyLoss(x.z!, x.y!, { reduction: 'mean', ignoreIndex: -1, weights: x.w! });
      return g.add(g.add(b, a), c);
    },
  });
});
