// Resume exactness: save mid-run, restore into a fresh optimiser, continue; must equal an uninterrupted run bit for bit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdamW, RMSprop, SGD, ParamSet, createSchedule, serializeOptimizerState, deserializeOptimizerState, isNormOrBias } from '../src/index.js';
import type { FlatOptimizer } from '../src/index.js';

function layout(): ParamSet {
  const ps = new ParamSet({ 'l0.weight': [7, 5], 'l0.bias': [5], 'norm.weight': [5], 'head.weight': [5, 3] });
  for (let i = 0; i < ps.length; i++) ps.data[i] = 0;
  for (const e of ps.entries) ps.view(e.name).forEach((_, j, a) => { a[j] = Math.sin(e.offset + j * 1.1); });
  return ps;
}

function grads(ps: ParamSet, step: number): Float32Array {
  const g = ps.gradBuffer();
  for (const e of ps.entries) ps.view(e.name, g).forEach((_, j, a) => { a[j] = Math.cos(step * 0.37 + j) * (1 + (j % 3)); });
  return g;
}

function checkResume(make: (ps: ParamSet) => FlatOptimizer): void {
  const schedule = createSchedule({ kind: 'cosine', baseLr: 0.01, warmupSteps: 3, totalSteps: 20 });
  const total = 12, cut = 7;
  const a = layout();
  const optA = make(a);
  for (let s = 0; s < total; s++) optA.step(grads(a, s), schedule.lrAt(s));

  const b = layout();
  const optB = make(b);
  for (let s = 0; s < cut; s++) optB.step(grads(b, s), schedule.lrAt(s));
  const bytes = serializeOptimizerState(optB.state());
  const savedParams = b.data.slice();

  const c = layout();
  c.data.set(savedParams);
  const optC = make(c);
  optC.loadState(deserializeOptimizerState(bytes));
  assert.equal(optC.steps, cut);
  for (let s = optC.steps; s < total; s++) optC.step(grads(c, s), schedule.lrAt(s));

  assert.deepEqual(new Uint32Array(c.data.buffer), new Uint32Array(a.data.buffer), `${optA.kind}: resumed params are bit-identical`);
  const sa = optA.state(), sc = optC.state();
  for (const k of ['m', 'v', 'gAvg'] as const) {
    if (sa[k]) assert.deepEqual(new Uint32Array(sc[k]!.buffer), new Uint32Array(sa[k]!.buffer), `${optA.kind}.${k}`);
  }
}

test('AdamW resumes bit-identically from a serialised state', () => {
  checkResume((ps) => new AdamW(ps, { weightDecay: 0.1, noDecay: isNormOrBias }));
});

test('RMSprop and SGD resume bit-identically', () => {
  checkResume((ps) => new RMSprop(ps, { momentum: 0.9, centered: true }));
  checkResume((ps) => new SGD(ps, { momentum: 0.9, weightDecay: 0.01 }));
});

test('state() snapshots and the binary format round-trips exactly', () => {
  const ps = layout();
  const opt = new AdamW(ps, { lr: 3e-4, betas: [0.9, 0.95], weightDecay: 0.1, noDecay: isNormOrBias });
  opt.step(grads(ps, 0));
  const s = opt.state();
  assert.equal(s.kind, 'adamw');
  assert.equal(s.step, 1);
  assert.deepEqual(s.hyperparams, { lr: 3e-4, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
  assert.deepEqual(s.noDecay, ['l0.bias', 'norm.weight']);
  opt.step(grads(ps, 1));
  assert.notDeepEqual(opt.state().m, s.m, 'state() is a copy, not a live view');
  const back = deserializeOptimizerState(serializeOptimizerState(s));
  assert.deepEqual(back, s);
  const bytes = serializeOptimizerState(s);
  assert.equal(bytes.length % 4, 0);
  assert.throws(() => deserializeOptimizerState(bytes.subarray(0, bytes.length - 4)), /header implies/);
  assert.throws(() => deserializeOptimizerState(new Uint8Array(32)), /JUICEOPT/);
});

test('loadState refuses state that would not resume the same run', () => {
  const ps = layout();
  const s = new AdamW(ps, { noDecay: isNormOrBias }).state();
  assert.throws(() => new AdamW(ps).loadState(s), /excludes \[l0.bias, norm.weight\] from weight decay/);
  assert.throws(() => new RMSprop(ps).loadState(s), /cannot load adamw state into rmsprop/);
  assert.throws(() => new AdamW(new Float32Array(3)).loadState({ ...s, noDecay: [] }), /state is for \d+ parameters/);
  const loaded = new AdamW(ps, { lr: 1, noDecay: isNormOrBias });
  loaded.loadState(s);
  assert.equal(loaded.lr, 1e-3, 'hyperparameters come from the state, like torch load_state_dict');
});
