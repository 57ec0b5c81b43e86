// `juice run --seeds N` bookkeeping and statistics (pipeline/seeds.ts, run-seeds.ts): seed list and
// directories, per-seed plans, mean ± t-interval per arm, the paired difference from the control,
// seeds where an arm failed, the written table / JSON / HTML, and --resume without a saved seed.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { meanInterval, pairedDifferenceInterval } from '@juice/eval';
import { ConfigError } from '@juice/service-kit';
import { QUICK_PLAN } from '../src/pipeline/plan.js';
import type { ArmKey, ArmResult, RunResult } from '../src/pipeline/result.js';
import { runSeeds, writeSeedsReport } from '../src/pipeline/run-seeds.js';
import { excludesZero, formatSeedsTable, planForSeed, seedList, seedOut, summarizeSeeds } from '../src/pipeline/seeds.js';

const KEYS: ArmKey[] = ['sft', 'irft', 'rft', 'control'];

function result(seed: number, em: Record<ArmKey, number | undefined>, failed: ArmKey[] = []): RunResult {
  const arms: ArmResult[] = KEYS.map((key) => ({
    key,
    name: key,
    status: failed.includes(key) ? 'failed' : 'ok',
    steps: 10,
    trainSeconds: 1,
    curve: [],
    pushes: [],
    ...(failed.includes(key) ? {} : { eval: { metrics: { 'task/exact_match': { value: em[key]! } }, via: 'model' as const, runId: `r${seed}`, seconds: 1 } }),
  }));
  return {
    version: 1,
    startedAt: '',
    wallSeconds: 10,
    plan: planForSeed(QUICK_PLAN, seed),
    data: { train: 't', tasks: ['task'], synthetic: true },
    model: 'm',
    evalPath: 'model',
    margin: { beta: 0.5, considered: 0, pairs: 0, identical: 0, empty: 0 },
    phases: {},
    machine: { cpus: 2, loadavgStart: [0, 0, 0], loadavgEnd: [0, 0, 0] },
    arms,
    splits: { tuning: 'the validation split', table: 'the test split' },
  };
}

test('seeds: list from the plan seed, one directory each (N = 1 keeps --out), data seed unchanged', () => {
  assert.deepEqual(seedList(42, 3), [42, 43, 44]);
  assert.throws(() => seedList(42, 0), /positive integer/);
  assert.equal(seedOut('/o', 42, 1), '/o');
  assert.equal(seedOut('/o', 43, 3), join('/o', 'seed-43'));
  const p = planForSeed(QUICK_PLAN, 7);
  assert.equal(p.seed, 7);
  assert.deepEqual(p.synthetic, QUICK_PLAN.synthetic);
});

test('summary: mean ± t-interval per arm, arm − control paired by seed, a failed seed left out of that arm', () => {
  const em = [
    { sft: 0.4, irft: 0.45, rft: 0.41, control: 0.42 },
    { sft: 0.38, irft: 0.44, rft: 0.37, control: 0.4 },
    { sft: 0.43, irft: 0.47, rft: 0.44, control: 0.43 },
  ];
  const runs = em.map((e, i) => ({ seed: 42 + i, out: `/o/seed-${42 + i}`, result: result(42 + i, e, i === 2 ? ['rft'] : []) }));
  const s = summarizeSeeds(runs);
  assert.deepEqual(s.seeds, [42, 43, 44]);
  const row = s.rows.find((r) => r.label === 'task/exact_match')!;
  const irft = em.map((e) => e.irft);
  const control = em.map((e) => e.control);
  assert.deepEqual({ ...row.arms.irft, seeds: undefined }, { ...meanInterval(irft), seeds: undefined });
  assert.equal(row.arms.rft!.n, 2, 'rft failed on seed 44');
  assert.deepEqual(row.arms.rft!.seeds, [42, 43]);
  const d = row.vsControl.irft!;
  const expected = pairedDifferenceInterval(irft, control);
  assert.ok(Math.abs(d.mean - expected.mean) < 1e-15 && Math.abs(d.halfWidth - expected.halfWidth) < 1e-15);
  // IRFT beats the control on every seed by 0.03-0.04: the paired interval excludes 0 although the
  // arms' own intervals overlap.
  assert.ok(excludesZero(d), `${d.low} ${d.high}`);
  assert.ok(row.arms.irft!.low < row.arms.control!.high);
  assert.equal(row.vsControl.rft!.n, 2, 'paired only where both were measured');
  assert.equal(row.vsControl.control, undefined);
  assert.deepEqual(s.rows.find((r) => r.label.startsWith('optimizer steps'))!.vsControl, {}, 'no difference of planned step counts');
  assert.deepEqual(s.runs[2]!.failed, ['rft']);

  const table = formatSeedsTable(s);
  assert.match(table, /mean ± 95 % CI half-width over 3 seeds \(42, 43, 44/);
  assert.match(table, new RegExp(`${row.arms.irft!.mean.toFixed(4)} ± ${row.arms.irft!.halfWidth.toFixed(4)}`));
  assert.match(table, /\(n=2\)/);
  assert.match(table, /\+0\.0367 ± \d\.\d{4} \*/);
  assert.match(table, /seed 44: SFT\+RFT did not finish/);
  assert.match(table, /settings chosen on: the validation split/);
});

test('seeds report: JSON, text table and an HTML page with error bars', () => {
  const out = mkdtempSync(join(tmpdir(), 'juice-seeds-'));
  const runs = [0, 1].map((i) => ({ seed: i, out: join(out, `seed-${i}`), result: result(i, { sft: 0.4 + i / 100, irft: 0.5, rft: 0.3 + i / 50, control: 0.45 - i / 100 }) }));
  const files = writeSeedsReport(out, summarizeSeeds(runs));
  const json = JSON.parse(readFileSync(files.json, 'utf8')) as { rows: { label: string; arms: Record<string, { halfWidth: number | null }> }[] };
  assert.equal(json.rows.find((r) => r.label === 'task/exact_match')!.arms.irft!.halfWidth, 0);
  assert.ok(existsSync(files.table));
  const html = readFileSync(files.html, 'utf8');
  assert.match(html, /Difference from SFT\+control, paired by seed/);
  assert.match(html, /task\/exact_match ↑: mean ± 95 % CI/);
  assert.match(html, /<path d="M[\d.]+ [\d.]+V[\d.]+/, 'an error bar');
  assert.match(html, /seed-1\/report\.html/);
});

test('--resume with no saved seed is refused before anything runs', async () => {
  const out = mkdtempSync(join(tmpdir(), 'juice-seeds-'));
  await assert.rejects(runSeeds({ out, plan: QUICK_PLAN, schema: 1, evalVia: 'auto', say: () => undefined, resume: true }, 3), (e: unknown) => e instanceof ConfigError && /no seed of .* has a run-state\.json/.test((e as Error).message));
});

test('which split chose what: said for synthetic data and for each corpus split', async () => {
  const { defaultSplits } = await import('../src/pipeline/run-pipeline.js');
  assert.match(defaultSplits({}).tuning, /same split this table reports/);
  assert.match(defaultSplits({ corpus: { name: 'wordnet', split: 'test' } }).table, /test split .*used for nothing else/);
  assert.match(defaultSplits({ corpus: { name: 'wordnet', split: 'validation' } }).table, /not the final table/);
  const { runCommand } = await import('../src/commands/run.js');
  await assert.rejects(runCommand(['--corpus', 'wordnet', '--data', 'x.jsonl']), /--corpus and --data both name the training data/);
  await assert.rejects(runCommand(['--eval-split', 'validation']), /--eval-split applies to --corpus only/);
});
