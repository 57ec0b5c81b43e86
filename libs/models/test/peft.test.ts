// PEFT adapter directories against an independent PyTorch reference (golden/make_peft_golden.py, values in
// golden/peft_golden.json): juice saves the adapter in PEFT's layout, loads it back, and its logits (the
// adapted graph, and the merged weights) equal W + scaling·B·A applied by the reference, within 1e-5 relative.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toModelBytes } from '@juice/onnx';
import { readSafetensors } from '@juice/checkpoint';
import { ParamSet } from '@juice/optim';
import { createSession, type Feeds } from '@juice/runtime';
import {
  buildCausalLm, configFromHf, createDefaultModel, initLora, loadModel, loadModelWithAdapter, loadPeftAdapter, loraParameterShapes, mergeLora, parameterShapes, savePeftAdapter,
  type LoraSpec,
} from '../src/index.js';

interface Case {
  name: string;
  config: Record<string, unknown>;
  adapter_config: { r: number; lora_alpha: number; target_modules: string[] | string; use_rslora: boolean };
  weights: Record<string, { shape: number[]; data: number[] }>;
  adapter: Record<string, { shape: number[]; data: number[] }>;
  input_ids: number[][];
  attention_mask: number[][];
  logits: number[];
  base_logits: number[];
}
const cases = JSON.parse(readFileSync(new URL('./golden/peft_golden.json', import.meta.url), 'utf8')) as Case[];
const i64 = (rows: number[][]) => ({ data: BigInt64Array.from(rows.flat().map(BigInt)), dims: [rows.length, rows[0]!.length] });
const feedsOf = (p: ParamSet): Feeds => Object.fromEntries(p.entries.map((e) => [e.name, { data: p.view(e.name), dims: e.shape as number[] }]));
function relErr(a: ArrayLike<number>, b: readonly number[]): number {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) { num = Math.max(num, Math.abs(a[i]! - b[i]!)); den = Math.max(den, Math.abs(b[i]!)); }
  return num / den;
}

for (const k of cases) {
  test(`PEFT parity ${k.name}: save → load → logits equal the reference's W + scaling·B·A`, async () => {
    const config = configFromHf(k.config, 'golden');
    const spec: LoraSpec = { rank: k.adapter_config.r, alpha: k.adapter_config.lora_alpha, targetModules: typeof k.adapter_config.target_modules === 'string' ? [k.adapter_config.target_modules] : k.adapter_config.target_modules, useRslora: k.adapter_config.use_rslora };
    const base = new ParamSet(parameterShapes(config));
    for (const e of base.entries) base.set(e.name, Float32Array.from(k.weights[e.name]!.data));
    const adapters = new ParamSet(loraParameterShapes(config, spec));
    assert.deepEqual(adapters.names.slice().sort(), Object.keys(k.adapter).sort(), 'PEFT tensor names');
    for (const e of adapters.entries) { assert.deepEqual(e.shape, k.adapter[e.name]!.shape); adapters.set(e.name, Float32Array.from(k.adapter[e.name]!.data)); }

    const dir = mkdtempSync(join(tmpdir(), 'juice-peft-'));
    try {
      savePeftAdapter(dir, config, { spec, adapters, taskType: 'CAUSAL_LM', baseModelNameOrPath: 'golden-base' });
      const cfg = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
      assert.equal(cfg.peft_type, 'LORA'); assert.equal(cfg.r, spec.rank); assert.equal(cfg.lora_alpha, spec.alpha); assert.equal(cfg.use_rslora, !!spec.useRslora);
      assert.equal(cfg.bias, 'none'); assert.equal(cfg.task_type, 'CAUSAL_LM'); assert.equal(cfg.base_model_name_or_path, 'golden-base');
      assert.deepEqual(cfg.target_modules, spec.targetModules);
      const st = readSafetensors(join(dir, 'adapter_model.safetensors')).tensors;
      assert.deepEqual([...st.keys()].sort(), Object.keys(k.adapter).sort());
      const loaded = loadPeftAdapter(dir, config);
      assert.deepEqual(loaded.spec, { ...spec, dropout: 0 });

      const feeds = { input_ids: i64(k.input_ids), attention_mask: i64(k.attention_mask), labels: i64(k.input_ids) };
      const adapted = await createSession(toModelBytes(buildCausalLm(config, { lora: loaded.spec, logits: true }).graph));
      const la = (await adapted.run({ ...feeds, ...feedsOf(base), ...feedsOf(loaded.adapters) }, ['logits'])).logits!.data as Float32Array;
      const plain = await createSession(toModelBytes(buildCausalLm(config, { logits: true }).graph));
      const lm = (await plain.run({ ...feeds, ...feedsOf(mergeLora(config, base, loaded.adapters, loaded.spec)) }, ['logits'])).logits!.data as Float32Array;
      const lb = (await plain.run({ ...feeds, ...feedsOf(base) }, ['logits'])).logits!.data as Float32Array;
      assert.ok(relErr(lb, k.base_logits) < 1e-5, 'base agrees');
      assert.ok(relErr(lb, k.logits) > 1e-3, 'the adapter matters');
      assert.ok(relErr(la, k.logits) < 1e-5, `adapted graph vs PyTorch: ${relErr(la, k.logits)}`);
      assert.ok(relErr(lm, k.logits) < 1e-5, `merged weights vs PyTorch: ${relErr(lm, k.logits)}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('adapter_config settings juice does not honour are refused by key; stray tensors refused', () => {
  const config = configFromHf(cases[0]!.config, 'golden');
  const spec: LoraSpec = { rank: 2, alpha: 4, targetModules: ['q_proj'] };
  const dir = mkdtempSync(join(tmpdir(), 'juice-peft-'));
  try {
    savePeftAdapter(dir, config, { spec, adapters: initLora(config, spec), taskType: 'CAUSAL_LM', baseModelNameOrPath: '' });
    const good = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
    for (const [key, value, re] of [['use_dora', true, /use_dora/], ['rank_pattern', { q_proj: 8 }, /rank_pattern/], ['bias', 'all', /bias/], ['target_modules', '.*q_proj', /regular expression/], ['peft_type', 'IA3', /peft_type/], ['lora_dropout', 1.5, /dropout/]] as const) {
      writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({ ...good, [key]: value }));
      assert.throws(() => loadPeftAdapter(dir, config), re, key);
    }
    writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({ ...good, target_modules: ['k_proj'] }));
    assert.throws(() => loadPeftAdapter(dir, config), /missing tensor .*k_proj.*not read/s);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('loadModelWithAdapter: base + adapter dir = the merged model; version hash covers both', () => {
  const root = mkdtempSync(join(tmpdir(), 'juice-peft-'));
  try {
    const baseDir = join(root, 'base');
    createDefaultModel(baseDir, { corpus: ['hello world', 'a b c d e f'] });
    const base = loadModel(baseDir);
    const spec: LoraSpec = { rank: 4, alpha: 8, targetModules: ['q_proj', 'down_proj'] };
    const ad = initLora(base.config, spec, 5);
    for (const e of ad.entries) if (e.name.includes('lora_B')) ad.view(e.name).fill(0.01);
    savePeftAdapter(join(root, 'ad'), base.config, { spec, adapters: ad, taskType: 'CAUSAL_LM', baseModelNameOrPath: 'juice-tiny' });
    const m = loadModelWithAdapter(baseDir, join(root, 'ad'));
    const ref = mergeLora(base.config, base.params, ad, spec);
    for (const n of ref.names) assert.deepEqual(m.params.view(n), ref.view(n), n);
    assert.notEqual(m.sha256, base.sha256);
    assert.throws(() => loadModelWithAdapter(baseDir, join(root, 'ad'), 'reward'), /CAUSAL_LM adapter cannot be loaded as a reward model/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
