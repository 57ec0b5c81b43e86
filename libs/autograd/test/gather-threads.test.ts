// The embedding gradient on more than one intra-op thread: every repeated id's rows must be summed,
// and identically on every run (ORT's ScatterND reduction='add' lost updates here; see rules/layout.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { GraphBuilder, toModelBytes } from '@juice/onnx';
import { grad } from '../src/index.js';

test('Gather gradient with many repeated ids is exact and repeatable on 2 threads', async () => {
  const V = 64, D = 64, N = 4096;
  const b = new GraphBuilder('emb');
  const table = b.input('table', 'float32', [V, D]);
  const ids = b.input('ids', 'int64', [N]);
  const w = b.input('w', 'float32', [N, D]);
  b.output(b.reduceSum(b.mul(b.gather(table, ids), w), undefined, false), 'loss');
  const session = await ort.InferenceSession.create(toModelBytes(grad(b.build(), { loss: 'loss', wrt: ['table'] })), { intraOpNumThreads: 2, graphOptimizationLevel: 'basic' });
  let s = 1;
  const rand = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const idv = BigInt64Array.from({ length: N }, () => BigInt(rand() < 0.5 ? 3 : Math.floor(rand() * V)));
  const wv = Float32Array.from({ length: N * D }, () => rand() - 0.5);
  const exact = new Float64Array(V * D);
  for (let i = 0; i < N; i++) for (let j = 0; j < D; j++) exact[Number(idv[i]) * D + j]! += wv[i * D + j]!;
  const feeds = { table: new ort.Tensor('float32', new Float32Array(V * D), [V, D]), ids: new ort.Tensor('int64', idv, [N]), w: new ort.Tensor('float32', wv, [N, D]) };
  let first: Float32Array | undefined;
  for (let r = 0; r < 5; r++) {
    const g = (await session.run(feeds))['grad.table']!.data as Float32Array;
    let err = 0;
    for (let k = 0; k < g.length; k++) err = Math.max(err, Math.abs(g[k]! - exact[k]!));
    assert.ok(err < 1e-3, `run ${r}: max |grad - exact sum| = ${err}`);
    if (first) assert.ok(g.every((v, k) => Object.is(v, first![k])), `run ${r} differs from run 0`);
    else first = g.slice();
  }
  await session.release();
});
