// juice run's bookkeeping in --out (pipeline/run-state.ts): finished arms survive a stopped run, the
// same settings continue, changed settings are refused naming every change, --resume needs a run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@juice/service-kit';
import type { ArmResult } from '../src/pipeline/result.js';
import { changedSettings, RunState, STATE_FILE } from '../src/pipeline/run-state.js';

const settings = () => ({ plan: { seed: 42, sft: { steps: 300, learningRate: 3e-3 } }, schema: 2, train: { path: '/d/train.jsonl', sha256: 'aa' }, heldout: null, tasks: [{ name: 'heldout_ppl' }] });
const arm = (key: ArmResult['key'], status: ArmResult['status'] = 'ok'): ArmResult => ({ key, name: key, status, jobId: `job-${key}`, checkpoint: `/store/${key}/v3`, steps: 10, trainSeconds: 1.5, curve: [{ step: 1, stage: 0, metrics: { loss: 2.5 } }], pushes: [] });

test('a new --out starts a state; a rerun with the same settings gets the finished arms back', () => {
  const out = mkdtempSync(join(tmpdir(), 'juice-state-'));
  const first = RunState.open(out, settings());
  assert.equal(first.resumed, false);
  assert.ok(existsSync(join(out, STATE_FILE)));
  first.state.started('sft', 'job-sft');
  first.state.trained(arm('sft'));
  first.state.started('irft', 'job-irft');
  first.state.setMargin({ prompts: [{ kind: { case: 'text', value: 'q' } }], demonstrations: ['a'], negatives: ['b'], considered: 2, identical: 1, empty: 0 }, { chosen: [-1], rejected: [-2] });
  first.state.evaluated({ ...arm('sft'), eval: { metrics: { 'heldout_ppl/nll': { value: 0.25, stderr: 0.01 } }, via: 'model', runId: 'r1', seconds: 2 }, margin: { margin: 0, accuracy: NaN, chosenLogpDelta: 0, rejectedLogpDelta: 0, pairs: 1 } });

  const again = RunState.open(out, settings(), { resume: true });
  assert.equal(again.resumed, true);
  const sft = again.state.arm('sft')!;
  assert.equal(sft.evaluated, true);
  assert.equal(sft.trained.checkpoint, '/store/sft/v3');
  assert.deepEqual(sft.trained.curve, arm('sft').curve);
  assert.equal(sft.trained.eval!.metrics['heldout_ppl/nll']!.value, 0.25);
  assert.equal(sft.trained.margin!.accuracy, null, 'NaN is stored as null (JSON has no NaN)');
  assert.equal(again.state.arm('irft'), undefined, 'an arm that did not finish is not kept');
  assert.deepEqual(again.state.data.started, { irft: 'job-irft' }, 'its job id is, so the rerun can cancel it');
  assert.deepEqual(again.state.data.margin!.sft, { chosen: [-1], rejected: [-2] });
  assert.deepEqual(readdirSync(out), [STATE_FILE], 'no temp file left behind');
});

test('changed settings are refused, naming each change', () => {
  const out = mkdtempSync(join(tmpdir(), 'juice-state-'));
  RunState.open(out, settings()).state.trained(arm('sft'));
  const changed = settings();
  changed.plan.sft.steps = 400;
  changed.train.sha256 = 'bb';
  assert.throws(
    () => RunState.open(out, changed),
    (e: unknown) => e instanceof ConfigError && e.message.includes('plan.sft.steps: 300 → 400') && e.message.includes('train.sha256: "aa" → "bb"') && !e.message.includes('schema'),
  );
  // Refused with --resume too, and the saved run is untouched.
  assert.throws(() => RunState.open(out, changed, { resume: true }), ConfigError);
  assert.equal(RunState.open(out, settings()).state.arm('sft')!.trained.status, 'ok');
});

test('a saved run that finished nothing (e.g. stopped at the length check) is replaced by new settings', () => {
  const out = mkdtempSync(join(tmpdir(), 'juice-state-'));
  RunState.open(out, settings());
  const fixed = settings();
  fixed.train.sha256 = 'cc';
  const next = RunState.open(out, fixed);
  assert.equal(next.resumed, false);
  assert.equal((next.state.data.settings as ReturnType<typeof settings>).train.sha256, 'cc');
});

test('--resume without a saved run is refused', () => {
  const out = mkdtempSync(join(tmpdir(), 'juice-state-'));
  assert.throws(() => RunState.open(out, settings(), { resume: true }), (e: unknown) => e instanceof ConfigError && e.message.includes('no run to resume'));
  assert.equal(existsSync(join(out, STATE_FILE)), false);
});

test('changedSettings names added, removed and nested differences', () => {
  assert.deepEqual(changedSettings({ a: 1, b: { c: [1, 2] } }, { a: 1, b: { c: [1, 2] } }), []);
  assert.deepEqual(changedSettings({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 3] }, d: 'x' }), ['a: 1 → undefined', 'b.c: [1,2] → [1,3]', 'd: undefined → "x"']);
});
