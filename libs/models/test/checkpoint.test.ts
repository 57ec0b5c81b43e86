// Model directories end to end: the embedded default model is created, loads, round-trips exactly
// through save/load, and every kind of bad checkpoint fails naming the file and the tensor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, truncateSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors, saveHfDir, writeSafetensors } from '@juice/checkpoint';
import { configToHf, createDefaultModel, DEFAULT_MODEL_CONFIG, loadModel, parameterCount } from '../src/index.js';

const corpus = Array.from({ length: 300 }, (_, i) => `What is ${i}+${i * 3}? ${i}+${i * 3}=${i * 4}`);
const base = mkdtempSync(join(tmpdir(), 'juice-model-'));
const dir = join(base, 'default');
createDefaultModel(dir, { corpus, seed: 5 });

test('the embedded default model is created by juice and loads with its tokenizer', () => {
  const m = loadModel(dir);
  assert.deepEqual(m.config, { ...DEFAULT_MODEL_CONFIG, eosTokenId: 2 });
  assert.equal(m.params.numParams, parameterCount(DEFAULT_MODEL_CONFIG));
  assert.ok(m.params.numParams > 5e5 && m.params.numParams < 3e6, `${m.params.numParams} parameters`);
  assert.ok(m.tokenizer.vocabSize <= 512, 'the model vocabulary covers every token id'); // merges stop when no pair repeats
  assert.equal(m.tokenizer.decode(m.tokenizer.encode('What is 7+8?')), 'What is 7+8?');
  assert.match(m.sha256, /^[0-9a-f]{64}$/);
});

test('load → save → load gives bit-identical tensors and the same weight hash', () => {
  const a = loadModel(dir);
  const out = join(base, 'resaved');
  saveHfDir(out, { config: configToHf(a.config), tensors: a.params.entries.map((e) => [e.name, { shape: e.shape, data: a.params.view(e.name) }] as [string, { shape: readonly number[]; data: Float32Array }]), extraFiles: { 'tokenizer.json': readFileSync(join(dir, 'tokenizer.json'), 'utf8'), 'tokenizer_config.json': readFileSync(join(dir, 'tokenizer_config.json'), 'utf8') } });
  const b = loadModel(out);
  assert.ok(a.params.data.every((v, i) => Object.is(v, b.params.data[i])), 'bit-identical');
  assert.equal(a.sha256, b.sha256, 'same weight bytes, same hash');
});

function broken(name: string, mutate: (d: string) => void): string {
  const d = join(base, name);
  cpSync(dir, d, { recursive: true });
  mutate(d);
  return d;
}

test('bad checkpoints name the file and the tensor', () => {
  const st = (d: string) => join(d, 'model.safetensors');
  const missing = broken('missing', (d) => {
    const { tensors } = readSafetensors(st(d));
    tensors.delete('model.layers.2.mlp.up_proj.weight');
    writeSafetensors(st(d), tensors);
  });
  assert.throws(() => loadModel(missing), /missing tensor "model.layers.2.mlp.up_proj.weight"/);
  const shape = broken('shape', (d) => {
    const { tensors } = readSafetensors(st(d));
    tensors.set('model.norm.weight', { dtype: 'F32', shape: [64], data: new Float32Array(64) });
    writeSafetensors(st(d), tensors);
  });
  assert.throws(() => loadModel(shape), /tensor "model.norm.weight" has shape \[64\], expected \[128\]/);
  const arch = broken('arch', (d) => {
    const c = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8'));
    writeFileSync(join(d, 'config.json'), JSON.stringify({ ...c, architectures: ['MambaForCausalLM'], model_type: 'mamba' }));
  });
  assert.throws(() => loadModel(arch), (e: unknown) => (e as { grpcCode?: string }).grpcCode === 'INVALID_ARGUMENT' && /config.json: architecture "MambaForCausalLM" is not supported/.test((e as Error).message));
  const truncated = broken('truncated', (d) => truncateSync(st(d), 100_000));
  assert.throws(() => loadModel(truncated), (e: unknown) => (e as { grpcCode?: string }).grpcCode === 'DATA_LOSS' && (e as Error).message.includes(st(truncated)) && /tensor "model\.[^"]+"/.test((e as Error).message));
});
