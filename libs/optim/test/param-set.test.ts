import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParamSet } from '../src/index.js';

test('ParamSet lays tensors out aligned in one flat buffer', () => {
  const ps = new ParamSet([{ name: 'a', shape: [2, 3] }, { name: 'b', shape: [5] }, { name: 'c', shape: [] }], { alignment: 4 });
  assert.deepEqual(ps.entries.map((e) => [e.name, e.offset, e.size]), [['a', 0, 6], ['b', 8, 5], ['c', 16, 1]]);
  assert.equal(ps.length, 20);
  assert.equal(ps.numParams, 12);
  assert.deepEqual(ps.entry('a').shape, [2, 3]);
  const def = new ParamSet({ x: [3], y: [3] });
  assert.equal(def.entry('y').offset, 16, 'default alignment is 16 elements (64 bytes)');
  assert.equal((def.view('y').byteOffset) % 64, 0);
});

test('views are zero-copy; set/get/load/toRecord copy', () => {
  const ps = new ParamSet({ w: [2, 2], bias: [2] }, { alignment: 4 });
  ps.set('w', [1, 2, 3, 4]);
  const v = ps.view('w');
  assert.equal(v.buffer, ps.data.buffer);
  v[0] = 10;
  assert.equal(ps.data[0], 10);
  const copy = ps.get('w');
  copy[1] = 99;
  assert.equal(ps.data[1], 2);
  ps.load({ w: new Float32Array([5, 6, 7, 8]), bias: [1, -1] });
  assert.deepEqual([...ps.data], [5, 6, 7, 8, 1, -1, 0, 0]);
  assert.deepEqual(Object.keys(ps.toRecord()), ['w', 'bias']);
  const g = ps.gradBuffer();
  assert.equal(g.length, ps.length);
  ps.view('bias', g).fill(3);
  assert.deepEqual([...g], [0, 0, 0, 0, 3, 3, 0, 0]);
  assert.deepEqual(Object.keys(ps.views(g)), ['w', 'bias']);
});

test('ParamSet errors name the tensor', () => {
  const ps = new ParamSet({ w: [2] });
  assert.throws(() => ps.view('nope'), /unknown parameter "nope"/);
  assert.throws(() => ps.set('w', [1, 2, 3]), /"w" has 2 elements, got 3/);
  assert.throws(() => ps.load({ w: [1, 2], extra: [1] }), /unexpected \[extra\]/);
  assert.throws(() => ps.view('w', new Float32Array(3)), /layout needs 16/);
  assert.throws(() => new ParamSet([{ name: 'a', shape: [1] }, { name: 'a', shape: [1] }]), /listed twice/);
  assert.throws(() => new ParamSet({ a: [2.5] }), /"a".*non-negative integers/);
});

test('clone copies layout and values into an independent buffer', () => {
  const a = new ParamSet([{ name: 'w', shape: [2, 3] }, { name: 'b', shape: [3] }]);
  a.set('w', [1, 2, 3, 4, 5, 6]);
  const b = a.clone();
  assert.deepEqual(b.entries, a.entries);
  assert.deepEqual(Array.from(b.view('w')), [1, 2, 3, 4, 5, 6]);
  a.view('w')[0] = 9;
  assert.equal(b.view('w')[0], 1, 'the copy does not share memory');
});
