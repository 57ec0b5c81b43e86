import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createSchedule, GradAccumulator } from '../src/index.js';
import type { ScheduleOptions } from '../src/index.js';

const golden = JSON.parse(readFileSync(new URL('./golden/golden.json', import.meta.url), 'utf8')) as {
  schedules: Record<string, { options: ScheduleOptions; lrs: number[] }>;
};

test('schedules reproduce HF lambdas under torch LambdaLR (golden)', () => {
  for (const [name, { options, lrs }] of Object.entries(golden.schedules)) {
    const s = createSchedule(options);
    lrs.forEach((lr, step) => {
      assert.ok(Math.abs(s.lrAt(step) - lr) <= 1e-15 + 1e-12 * Math.abs(lr), `${name} step ${step}: ${s.lrAt(step)} vs ${lr}`);
    });
  }
});

test('schedule values at specific steps (HF formulas by hand)', () => {
  const lin = createSchedule({ kind: 'linear', baseLr: 1, warmupSteps: 10, totalSteps: 110 });
  assert.equal(lin.lrAt(0), 0, 'HF: first warm-up step has lr 0');
  assert.equal(lin.lrAt(5), 0.5);
  assert.equal(lin.lrAt(10), 1);
  assert.equal(lin.lrAt(60), 0.5);
  assert.equal(lin.lrAt(110), 0);
  assert.equal(lin.lrAt(200), 0);
  const cos = createSchedule({ kind: 'cosine', baseLr: 2, warmupSteps: 4, totalSteps: 104 });
  assert.equal(cos.lrAt(2), 1);
  assert.equal(cos.lrAt(4), 2);
  assert.ok(Math.abs(cos.lrAt(54) - 1) < 1e-15, 'half way: cos(pi/2)');
  assert.ok(Math.abs(cos.lrAt(104)) < 1e-15);
  const floor = createSchedule({ kind: 'cosine', baseLr: 1, totalSteps: 100, minLrRatio: 0.1 });
  assert.ok(Math.abs(floor.lrAt(100) - 0.1) < 1e-15);
  assert.ok(Math.abs(floor.lrAt(50) - 0.55) < 1e-15);
  const c = createSchedule({ kind: 'constant', baseLr: 3, warmupSteps: 3 });
  assert.deepEqual([0, 1, 2, 3, 1000].map((s) => c.lrAt(s)), [0, 1, 2, 3, 3]);
  assert.throws(() => createSchedule({ kind: 'linear', baseLr: 1 }), /linear schedule needs totalSteps/);
  const linFloor = createSchedule({ kind: 'linear', baseLr: 1, totalSteps: 100, minLrRatio: 0.2 });
  assert.equal(linFloor.lrAt(0), 1);
  assert.ok(Math.abs(linFloor.lrAt(50) - 0.6) < 1e-15);
  assert.ok(Math.abs(linFloor.lrAt(100) - 0.2) < 1e-15);
  assert.ok(Math.abs(linFloor.lrAt(150) - 0.2) < 1e-15, 'stays at the floor past the end');
  assert.throws(() => createSchedule({ kind: 'constant', baseLr: 1, minLrRatio: 0.1 }), /not constant/);
});

test('GradAccumulator averages micro-batches by weight', () => {
  const acc = new GradAccumulator(3);
  acc.add(new Float32Array([1, 2, 3]), 1);
  acc.add(new Float32Array([3, 2, 1]), 3);
  assert.equal(acc.count, 2);
  assert.deepEqual([...acc.finalize()], [2.5, 2, 1.5]);
  assert.throws(() => acc.add(new Float32Array(3)), /reset\(\)/);
  acc.reset();
  acc.add(new Float32Array([4, 4, 4]));
  acc.add(new Float32Array([0, 2, 4]));
  assert.deepEqual([...acc.finalize()], [2, 3, 4]);
  assert.throws(() => new GradAccumulator(2).finalize(), /nothing/);
  assert.throws(() => new GradAccumulator(2).add(new Float32Array(3)), /3 elements, expected 2/);
});
