// juice merge: base + PEFT adapter → a plain HF model directory equal to W + scaling·B·A, loadable by any role.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDefaultModel, initLora, loadModel, mergeLora, savePeftAdapter, type LoraSpec } from '@juice/models';
import { main } from '../src/main.js';

test('juice merge --base --adapter --out writes the merged model', async () => {
  const root = mkdtempSync(join(tmpdir(), 'juice-merge-'));
  try {
    createDefaultModel(join(root, 'base'), { corpus: ['merge me please', 'x y z'] });
    const base = loadModel(join(root, 'base'));
    const spec: LoraSpec = { rank: 2, alpha: 3, targetModules: ['all-linear'], useRslora: true };
    const ad = initLora(base.config, spec, 2);
    for (const e of ad.entries) if (e.name.includes('lora_B')) ad.view(e.name).fill(0.02);
    savePeftAdapter(join(root, 'ad'), base.config, { spec, adapters: ad, taskType: 'CAUSAL_LM', baseModelNameOrPath: 'juice-tiny' });
    assert.equal(await main(['merge', '--base', join(root, 'base'), '--adapter', join(root, 'ad'), '--out', join(root, 'out')]), 0);
    const out = loadModel(join(root, 'out'));
    const ref = mergeLora(base.config, base.params, ad, spec);
    for (const n of ref.names) assert.deepEqual(out.params.view(n), ref.view(n), n);
    assert.ok(existsSync(join(root, 'out', 'tokenizer.json')));
    assert.equal(await main(['merge', '--base', join(root, 'base'), '--adapter', join(root, 'nope'), '--out', join(root, 'out2')]), 1);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
