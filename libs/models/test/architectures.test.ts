// The architecture registry: every class juice loads round-trips through its module, the questions callers
// ask (layerPrefix, sequenceClassifierClass) agree with the tensor names and classes the modules produce,
// and no code outside src/architectures/ branches on the architecture (the point of the registry).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { causalLmClass, configFromHf, configToHf, embeddingNames, HF_CLASSES, layerPrefix, parameterShapes, rewardParameterShapes, scoreHeadName, sequenceClassifierClass } from '../src/index.js';

const LLAMA_FAMILY = { hidden_size: 16, intermediate_size: 24, num_hidden_layers: 3, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 11, sliding_window: null, use_sliding_window: false };
const NEOX = { hidden_size: 16, intermediate_size: 24, num_hidden_layers: 3, num_attention_heads: 4, vocab_size: 11 };

for (const [hfClass, { architecture, head }] of Object.entries(HF_CLASSES)) {
  test(`${hfClass}: parsed by its module, written back as ${architecture}'s classes, tensors under layerPrefix`, () => {
    const json = { ...(architecture === 'gpt_neox' ? NEOX : LLAMA_FAMILY), architectures: [hfClass], ...(head === 'lm' ? {} : { num_labels: 1 }) };
    const c = configFromHf(json);
    assert.equal(c.architecture, architecture);
    assert.deepEqual(configFromHf(configToHf(c)), c, 'configToHf writes what configFromHf reads');
    const classes = Object.entries(HF_CLASSES).filter(([, v]) => v.architecture === architecture);
    assert.deepEqual(configToHf(c).architectures, [causalLmClass(c)]);
    assert.deepEqual([causalLmClass(c), sequenceClassifierClass(c)], [classes.find(([, v]) => v.head === 'lm')![0], classes.find(([, v]) => v.head !== 'lm')![0]]);

    // Every tensor is either one layer's (prefix, index, rest: the same rests in every layer) or a model-level one.
    const prefix = layerPrefix(c);
    const rests = Array.from({ length: c.numLayers }, () => [] as string[]);
    const global: string[] = [];
    for (const { name } of parameterShapes(c)) {
      if (!name.startsWith(prefix)) global.push(name);
      else {
        const [index, ...rest] = name.slice(prefix.length).split('.');
        assert.match(index!, /^\d+$/, name);
        rests[Number(index)]!.push(rest.join('.'));
      }
    }
    assert.ok(rests[0]!.length > 0);
    for (const r of rests) assert.deepEqual(r, rests[0]);
    const { embed, head: lmHead } = embeddingNames(c);
    assert.ok(global.includes(embed) && global.includes(lmHead));
    assert.ok(!global.some((n) => n.includes('layers')), `model-level tensors ${global}`);
    assert.equal(rewardParameterShapes(c).at(-1)!.name, scoreHeadName(c));
  });
}

/** Relative imports of each .ts file under src (type-only ones included). */
function importGraph(root: string): Map<string, string[]> {
  const files: string[] = [];
  const walk = (d: string) => readdirSync(d).forEach((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : f.endsWith('.ts') && files.push(join(d, f))));
  walk(root);
  return new Map(files.map((f) => [f, [...readFileSync(f, 'utf8').matchAll(/(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/g)].map((m) => resolve(dirname(f), m[1]!.replace(/\.js$/, '.ts')))]));
}

test('no import cycle in src, and no branching on the architecture outside src/architectures/', () => {
  const root = fileURLToPath(new URL('../src', import.meta.url));
  const graph = importGraph(root);
  const state = new Map<string, 'open' | 'done'>();
  const visit = (f: string, path: string[]) => {
    state.set(f, 'open');
    for (const d of graph.get(f) ?? []) {
      assert.ok(graph.has(d), `${relative(root, f)} imports a missing ${d}`);
      assert.notEqual(state.get(d), 'open', `import cycle: ${[...path, f, d].map((x) => relative(root, x)).join(' -> ')}`);
      if (!state.has(d)) visit(d, [...path, f]);
    }
    state.set(f, 'done');
  };
  for (const f of graph.keys()) if (!state.has(f)) visit(f, []);
  // config-keys.ts looks classes up in its per-model_type key tables (HF_CLASSES[k].architecture === t):
  // those tables are the one piece of architecture knowledge not yet moved into the modules.
  const branching = [...graph.keys()]
    .filter((f) => !relative(root, f).startsWith('architectures') && relative(root, f) !== 'config-keys.ts')
    .filter((f) => /\.architecture\s*[!=]==|===?\s*'(llama|mistral|qwen2|gpt_neox)'/.test(readFileSync(f, 'utf8')))
    .map((f) => relative(root, f));
  assert.deepEqual(branching, []);
});

test('a class or model_type named like an Object.prototype member is refused, not resolved to a function', () => {
  for (const name of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
    assert.throws(() => configFromHf({ architectures: [name], model_type: name, vocab_size: 8, hidden_size: 8, intermediate_size: 8, num_hidden_layers: 1, num_attention_heads: 2 }), /not supported|INVALID_ARGUMENT/);
  }
});
