import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder, dumpGraph, fromModelBytes, toModelBytes, tensor, tensorValues, floatAttr } from '../src/index.js';

function sample() {
  const g = new GraphBuilder('mlp');
  const x = g.input('x', 'float32', ['B', 4]);
  const w = g.input('w', 'float32', [4, 3]);
  const frozen = g.initializer('bias', tensor('float32', [3], [0.5, -1, 2]));
  const h = g.add(g.matmul(x, w), frozen);
  const y = g.op('LeakyRelu', [h], { alpha: floatAttr(0) });
  g.output(g.reshape(y, [-1]), 'y');
  return g.build();
}

test('round trip through ModelProto bytes keeps nodes, types, attributes and tensors', () => {
  const graph = sample();
  const back = fromModelBytes(toModelBytes(graph));
  assert.deepEqual(back.inputs, graph.inputs);
  assert.deepEqual(back.outputs, graph.outputs);
  assert.deepEqual(back.nodes.map((n) => n.opType), graph.nodes.map((n) => n.opType));
  assert.deepEqual(back.nodes.map((n) => n.attrs), graph.nodes.map((n) => n.attrs));
  assert.deepEqual(tensorValues(back.initializers.get('bias')!), [0.5, -1, 2]);
  assert.deepEqual(back.values.get('x'), { dtype: 'float32', shape: ['B', 4] });
  // Intermediates were not written as value_info: they are re-inferred on parse.
  assert.deepEqual(back.values.get(graph.nodes[0]!.outputs[0]!), { dtype: 'float32', shape: ['B', 3] });
  assert.deepEqual(back.values.get('y'), { dtype: 'float32', shape: ['3*B'] });
  assert.equal(dumpGraph(back), dumpGraph(graph));
  // And the bytes are stable.
  assert.deepEqual(toModelBytes(back), toModelBytes(graph));
});

test('dumpGraph prints one line per node with types', () => {
  const text = dumpGraph(sample());
  assert.match(text, /^ {2}matmul = MatMul\(x, w\) {2}# float32\[B,3\]$/m);
  assert.match(text, /leakyrelu = LeakyRelu\(add\) \{alpha=0\.0\} {2}# float32\[B,3\]/);
  assert.match(text, /output y: float32\[3\*B\]/);
});

test('value_info option writes intermediates', () => {
  const bytes = toModelBytes(sample(), { valueInfo: true, opset: 21, irVersion: 10 });
  const back = fromModelBytes(bytes);
  assert.deepEqual(back.values.get('add'), { dtype: 'float32', shape: ['B', 3] });
});
