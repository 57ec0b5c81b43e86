// `juice run --seeds N`: the whole main job N times, seed s = plan seed + k (k = 0..N-1), each seed its
// own SFT and every other arm started from that seed's SFT checkpoint, so seed-to-seed variation is
// measured rather than guessed. The data (and its split) stay the same for every seed: the spread is
// the training's (data order, sampling, and with the embedded default base its initial weights, which
// the pipeline draws from the job seed; a --model base is shared by every seed). Each seed runs in <out>/seed-<s> with its own run-state.json, so a rerun keeps every
// finished seed × arm (and a rerun with a larger N only runs the new seeds). N = 1 keeps the single-run
// layout (<out>/results.json) unchanged.
//
// The table reports, per metric and arm, the mean over seeds ± the half-width of its 95 % t-interval
// (t_{0.975, n−1} · s / √n), and each arm's difference from the control paired by seed (both arms of a
// seed share its SFT checkpoint and data order, so their common variation cancels). An interval that
// excludes 0 is a difference this many seeds can resolve; one that includes 0 is not.
import { join } from 'node:path';
import { meanInterval, pairedDifferenceInterval, type MeanInterval } from '@juice/eval';
import type { RunPlan } from './plan.js';
import { ARM_NAMES, type ArmKey, type RunResult } from './result.js';
import { tableRows } from './summary.js';

export const SEED_ARMS: ArmKey[] = ['sft', 'irft', 'rft', 'control'];

/** The seeds of an N-seed run: the plan's seed and the N − 1 after it. */
export function seedList(baseSeed: number, n: number): number[] {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`--seeds must be a positive integer, got ${n}`);
  return Array.from({ length: n }, (_, k) => baseSeed + k);
}

/** Where one seed's run lives: --out itself for a single seed, <out>/seed-<s> otherwise. */
export function seedOut(out: string, seed: number, n: number): string {
  return n === 1 ? out : join(out, `seed-${seed}`);
}

/** The plan of one seed: every job's seed changes; the data's (plan.synthetic.seed) does not. */
export function planForSeed(plan: RunPlan, seed: number): RunPlan {
  return { ...plan, seed };
}

export interface ArmInterval extends MeanInterval {
  /** The seeds that gave a value (an arm that failed on a seed has none there). */
  seeds: number[];
}

export interface SeedsRow {
  label: string;
  digits: number;
  better?: 'lower' | 'higher';
  /** Per arm: mean ± interval over the seeds where it was measured. */
  arms: Partial<Record<ArmKey, ArmInterval>>;
  /** Per arm other than the control: arm − control paired by seed (seeds where both were measured). */
  vsControl: Partial<Record<ArmKey, ArmInterval>>;
}

export interface SeedsSummary {
  version: 1;
  seeds: number[];
  level: number;
  /** Per seed: its directory and the arms that did not finish. */
  runs: { seed: number; out: string; wallSeconds: number; failed: ArmKey[] }[];
  rows: SeedsRow[];
  /** Which data chose the settings, which data the table reports (from the runs). */
  splits?: RunResult['splits'];
}

const interval = (values: number[], seeds: number[], level: number): ArmInterval => ({ ...meanInterval(values, level), seeds });

/** Mean ± CI per arm and the paired difference from the control, for every row of the single-run table. */
export function summarizeSeeds(runs: readonly { seed: number; out: string; result: RunResult }[], level = 0.95): SeedsSummary {
  // Rows are matched by label: every seed ran the same plan and tasks, so they share the labels.
  const byLabel = new Map<string, { digits: number; better?: 'lower' | 'higher'; values: Map<ArmKey, Map<number, number>> }>();
  for (const { seed, result } of runs) {
    for (const row of tableRows(result)) {
      if (row.label === 'train seconds') continue; // wall time, not a result
      const entry = byLabel.get(row.label) ?? { digits: row.digits, better: row.better, values: new Map() };
      byLabel.set(row.label, entry);
      row.values.forEach((v, i) => {
        const arm = result.arms[i]!;
        if (arm.status !== 'ok' || v === undefined || !Number.isFinite(v)) return;
        const perSeed = entry.values.get(arm.key) ?? new Map<number, number>();
        perSeed.set(seed, v);
        entry.values.set(arm.key, perSeed);
      });
    }
  }
  const rows: SeedsRow[] = [];
  for (const [label, e] of byLabel) {
    const arms: SeedsRow['arms'] = {};
    const vsControl: SeedsRow['vsControl'] = {};
    for (const key of SEED_ARMS) {
      const perSeed = e.values.get(key);
      if (perSeed && perSeed.size > 0) arms[key] = interval([...perSeed.values()], [...perSeed.keys()], level);
    }
    const control = e.values.get('control');
    // Step counts are the plan, not a result: no difference is taken.
    const planned = label.startsWith('optimizer steps');
    for (const key of SEED_ARMS) {
      if (key === 'control' || !control || planned) continue;
      const perSeed = e.values.get(key);
      const seeds = [...(perSeed?.keys() ?? [])].filter((s) => control.has(s));
      if (seeds.length === 0) continue;
      const d = pairedDifferenceInterval(
        seeds.map((s) => perSeed!.get(s)!),
        seeds.map((s) => control.get(s)!),
        level,
      );
      vsControl[key] = { ...d, seeds };
    }
    // A row no arm measured (e.g. the margin when there is no held-out file) is left out.
    if (Object.keys(arms).length > 0) rows.push({ label, digits: e.digits, better: e.better, arms, vsControl });
  }
  return {
    version: 1,
    seeds: runs.map((r) => r.seed),
    level,
    runs: runs.map((r) => ({ seed: r.seed, out: r.out, wallSeconds: r.result.wallSeconds, failed: r.result.arms.filter((a) => a.status === 'failed').map((a) => a.key) })),
    rows,
    splits: runs[0]?.result.splits,
  };
}

/** "0.405 ± 0.021", with the seed count when fewer seeds than the run's gave a value. */
export function formatInterval(v: ArmInterval | undefined, digits: number, seeds: number, signed = false): string {
  if (!v) return '—';
  const d = digits;
  const m = signed && v.mean > 0 ? `+${v.mean.toFixed(d)}` : v.mean.toFixed(d);
  const hw = Number.isFinite(v.halfWidth) ? ` ± ${v.halfWidth.toFixed(d)}` : '';
  return `${m}${hw}${v.n < seeds ? ` (n=${v.n})` : ''}`;
}

/** Whether the interval excludes 0: the difference is resolved at this many seeds. */
export const excludesZero = (v: ArmInterval | undefined) => !!v && Number.isFinite(v.halfWidth) && (v.low > 0 || v.high < 0);

function textTable(head: string[], body: string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)];
}

export function formatSeedsTable(s: SeedsSummary): string {
  const n = s.seeds.length;
  const pct = Math.round(s.level * 100);
  const label = (r: SeedsRow) => `${r.label}${r.better ? (r.better === 'lower' ? ' ↓' : ' ↑') : ''}`;
  const out = [`mean ± ${pct} % CI half-width over ${n} seeds (${s.seeds.join(', ')}; t-distribution, n − 1 degrees of freedom)`];
  out.push(...textTable(['metric', ...SEED_ARMS.map((k) => ARM_NAMES[k])], s.rows.map((r) => [label(r), ...SEED_ARMS.map((k) => formatInterval(r.arms[k], r.digits, n))])));
  const others = SEED_ARMS.filter((k) => k !== 'control');
  out.push('', `difference from ${ARM_NAMES.control}, paired by seed (mean ± ${pct} % CI half-width; * = the interval excludes 0)`);
  out.push(
    ...textTable(
      ['metric', ...others.map((k) => `${ARM_NAMES[k]} − control`)],
      s.rows.filter((r) => Object.keys(r.vsControl).length > 0).map((r) => [label(r), ...others.map((k) => `${formatInterval(r.vsControl[k], r.digits, n, true)}${excludesZero(r.vsControl[k]) ? ' *' : ''}`)]),
    ),
  );
  for (const r of s.runs) if (r.failed.length > 0) out.push(`seed ${r.seed}: ${r.failed.map((k) => ARM_NAMES[k]).join(', ')} did not finish (left out of that seed's values; see ${r.out})`);
  if (s.splits) out.push(`settings chosen on: ${s.splits.tuning}`, `table measured on: ${s.splits.table}`);
  return out.join('\n') + '\n';
}
