import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { baseKey, defaultBaseStore, pretrainedBase, PRETRAIN_PLAN, QUICK_PRETRAIN_PLAN } from '../src/pipeline/pretrain-base.js';
import { marginStats } from '../src/pipeline/margin.js';
import { pretrainPlanFrom } from '../src/commands/pretrain.js';

test('the base store key changes with everything that decides the weights: plan, config, seed', () => {
  const k = baseKey({ plan: PRETRAIN_PLAN, seed: 42 });
  assert.equal(k, baseKey({ plan: { ...PRETRAIN_PLAN }, seed: 42 }));
  assert.notEqual(k, baseKey({ plan: PRETRAIN_PLAN, seed: 43 }));
  assert.notEqual(k, baseKey({ plan: QUICK_PRETRAIN_PLAN, seed: 42 }));
  assert.notEqual(k, baseKey({ plan: { ...PRETRAIN_PLAN, steps: 601 }, seed: 42 }));
  assert.notEqual(k, baseKey({ plan: { ...PRETRAIN_PLAN, config: { ...PRETRAIN_PLAN.config, numLayers: 5 } }, seed: 42 }));
  assert.deepEqual(pretrainPlanFrom({ quick: false, steps: 7, lr: 0 }), { ...PRETRAIN_PLAN, steps: 7 });
  assert.ok(PRETRAIN_PLAN.config.maxPositions >= 256 && QUICK_PRETRAIN_PLAN.config.maxPositions >= 256);
  assert.equal(defaultBaseStore({ JUICE_BASE_STORE: '/x' }), '/x');
  assert.equal(defaultBaseStore({ XDG_CACHE_HOME: '/c' }), join('/c', 'juice', 'bases'));
});

test('a plan whose windows exceed the base context is refused before anything is read', async () => {
  const store = mkdtempSync(join(tmpdir(), 'juice-bases-'));
  await assert.rejects(pretrainedBase({ store, plan: { ...QUICK_PRETRAIN_PLAN, maxLength: 512 }, seed: 1, say: () => {} }), /windows of 512 tokens exceed the base's context of 256/);
});

test("Figure 1's log-prob gap: mean log π(y*) − log π(y') under the arm; gap − SFT's gap = margin / β", () => {
  const sft = { chosen: [-10, -12], rejected: [-8, -9] };
  const arm = { chosen: [-9, -11], rejected: [-10, -9] };
  const s = marginStats(arm, sft, 0.5);
  assert.equal(s.logpGap, (1 + -2) / 2);
  assert.equal(marginStats(sft, sft, 0.5).logpGap, (-2 + -3) / 2);
  assert.ok(Math.abs(s.logpGap! - marginStats(sft, sft, 0.5).logpGap! - s.margin / 0.5) < 1e-12);
});

test('juice run: --pretrain and --model both name the base; --base-store needs --pretrain', async () => {
  const { runCommand } = await import('../src/commands/run.js');
  await assert.rejects(runCommand(['--pretrain', 'austen', '--model', 'x']), /--pretrain and --model both name the model/);
  await assert.rejects(runCommand(['--base-store', 'x']), /--base-store applies to --pretrain only/);
});
