import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { createSession, tensor, ExecutionProviderUnavailableError, availableExecutionProviders, toOrtOptions } from '../src/index.js';
import { addFixture, castFixture, matmulFixture, naiveMatmul } from './fixtures/models.js';

test('CPU session runs a MatMul model correctly', async () => {
  const s = await createSession(matmulFixture(), { executionProvider: 'cpu', intraOpThreads: 1 });
  assert.deepEqual(s.inputNames, ['A', 'B']);
  assert.deepEqual(s.outputNames, ['Y']);
  assert.deepEqual(s.inputs[0], { name: 'A', type: 'float32', shape: ['M', 'K'] });
  const a = Float32Array.from({ length: 3 * 4 }, (_, i) => i * 0.5 - 2);
  const b = Float32Array.from({ length: 4 * 2 }, (_, i) => Math.sin(i));
  const out = await s.run({ A: tensor('float32', a, [3, 4]), B: { data: b, dims: [4, 2] } });
  assert.deepEqual(out.Y.dims, [3, 2]);
  const want = naiveMatmul(a, b, 3, 4, 2);
  (out.Y.data as Float32Array).forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-5, `Y[${i}]`));
  await s.release();
});

test('CPU session runs an Add model with an initializer; bare arrays and subarray views are fed', async () => {
  const s = await createSession(addFixture());
  const flat = new Float32Array(32);
  flat.set([1, 2, 3, 4, 5, 6], 16);
  const x = flat.subarray(16, 22); // a zero-copy view into a larger "parameter" buffer
  const y = new Float32Array([6, 5, 4, 3, 2, 1]);
  const out = await s.run({ X: x, Y: y }); // dims come from the model's fixed shape
  assert.deepEqual([...(out.Sum.data as Float32Array)], [7, 7, 7, 7, 7, 7]);
  assert.deepEqual([...(out.Biased.data as Float32Array)], [11, 22, 33, 14, 25, 36]);
  const only = await s.run({ X: x, Y: y }, ['Biased']);
  assert.deepEqual(Object.keys(only), ['Biased']);
  await s.release();
});

test('feeding a subarray of a flat parameter buffer is zero-copy', async () => {
  const flat = new Float32Array(64);
  const view = flat.subarray(16, 22);
  const t = tensor('float32', view, [2, 3]);
  assert.equal(t.data, view, 'the tensor wraps the view itself');
  flat[16] = 42;
  assert.equal((t.data as Float32Array)[0], 42);
});

test('int64 feeds, symbolic-dim inference and loading by path', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'juice-rt-'));
  try {
    const path = join(dir, 'cast.onnx');
    writeFileSync(path, castFixture());
    const s = await createSession(path);
    const out = await s.run({ I: new BigInt64Array([1n, -2n, 3n]) }); // dim N inferred as 3
    assert.deepEqual([...(out.F.data as Float32Array)], [1, -2, 3]);
    const out2 = await s.run({ I: tensor('int64', [5, 6], [2]) });
    assert.deepEqual([...(out2.F.data as Float32Array)], [5, 6]);
    await s.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('run errors name the input and what would be valid', async () => {
  const s = await createSession(addFixture());
  const six = new Float32Array(6);
  await assert.rejects(s.run({ X: six }), /missing \[Y\].*inputs are \[X, Y\]/);
  await assert.rejects(s.run({ X: six, Y: six, Z: six }), /unknown \[Z\]/);
  await assert.rejects(s.run({ X: new Float32Array(5), Y: six }), /input "X" has shape \[2, 3\] \(6 elements\), got 5/);
  await assert.rejects(s.run({ X: new Int32Array(6), Y: six }), /input "X" expects float32, got a Int32Array/);
  await assert.rejects(s.run({ X: six, Y: six }, ['Nope']), /unknown outputs \[Nope\]/);
  assert.throws(() => tensor('float32', new Float32Array(5), [2, 3]), /needs 6 elements, got 5/);
  await s.release();
});

test("requesting 'cuda' here fails with a clear, actionable error", async () => {
  assert.ok(!availableExecutionProviders().includes('cuda'), 'this machine has no CUDA provider libraries');
  await assert.rejects(createSession(addFixture(), { executionProvider: 'cuda' }), (e: Error) => {
    assert.ok(e instanceof ExecutionProviderUnavailableError);
    assert.match(e.message, /execution provider "cuda" is not available/);
    assert.match(e.message, /Available here: cpu/);
    assert.match(e.message, /ONNXRUNTIME_NODE_INSTALL=cuda12 npm install/);
    assert.match(e.message, /CUDA 12 and cuDNN 9/);
    return true;
  });
  await assert.rejects(createSession(addFixture(), { executionProvider: 'tpu' as 'cpu' }), /"tpu" is not available: juice supports cpu, cuda and webgpu/);
});

test('release twice is safe; run after release fails clearly', async () => {
  const s = await createSession(addFixture());
  await s.release();
  await s.release();
  assert.equal(s.released, true);
  await assert.rejects(s.run({ X: new Float32Array(6), Y: new Float32Array(6) }), /after release/);
});

test('session defaults follow ENGINE-FACTS', () => {
  const o = toOrtOptions({});
  assert.equal(o.graphOptimizationLevel, 'basic');
  assert.equal(o.enableMemPattern, false);
  assert.deepEqual(o.executionProviders, ['cpu']);
  assert.ok(ort.Tensor);
});
