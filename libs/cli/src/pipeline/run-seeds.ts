// Runs the main job once per seed (each into its own directory, each with its own SFT) and writes the
// summary over seeds into --out: seeds.json (every interval), table.txt and report.html (means with
// 95 % CI error bars, paired differences from the control). Each seed's own results.json, table and
// report stay in <out>/seed-<s>.
import { existsSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { intervalsHtml, type IntervalMetric } from '@juice/eval';
import { ConfigError } from '@juice/service-kit';
import { runPipeline, type PipelineInput } from './run-pipeline.js';
import { STATE_FILE } from './run-state.js';
import { ARM_NAMES, type RunResult } from './result.js';
import { formatSeedsTable, planForSeed, SEED_ARMS, seedList, seedOut, summarizeSeeds, type SeedsSummary } from './seeds.js';
import { writeRunReport } from './write-report.js';

export interface SeedsFiles {
  json: string;
  html: string;
  table: string;
}

/** JSON has no NaN/Infinity: they become null. */
const finiteOrNull = (_k: string, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v);

export function writeSeedsReport(out: string, s: SeedsSummary): SeedsFiles {
  const files = { json: join(out, 'seeds.json'), html: join(out, 'report.html'), table: join(out, 'table.txt') };
  writeFileSync(files.json, JSON.stringify(s, finiteOrNull, 1) + '\n');
  writeFileSync(files.table, formatSeedsTable(s));
  const metrics: IntervalMetric[] = s.rows.map((r) => ({
    label: r.label,
    better: r.better,
    values: SEED_ARMS.flatMap((k) => (r.arms[k] ? [{ name: ARM_NAMES[k], mean: r.arms[k].mean, halfWidth: r.arms[k].halfWidth, n: r.arms[k].n }] : [])),
    differences: SEED_ARMS.flatMap((k) => (r.vsControl[k] ? [{ name: ARM_NAMES[k], mean: r.vsControl[k].mean, halfWidth: r.vsControl[k].halfWidth, n: r.vsControl[k].n }] : [])),
  }));
  const facts: [string, string][] = [
    ...s.runs.map((r): [string, string] => [`seed ${r.seed}`, `${relative(out, r.out) || '.'}/report.html, ${r.wallSeconds.toFixed(1)} s${r.failed.length ? `; did not finish: ${r.failed.map((k) => ARM_NAMES[k]).join(', ')}` : ''}`]),
    ...(s.splits ? ([['settings chosen on', s.splits.tuning], ['table measured on', s.splits.table]] as [string, string][]) : []),
  ];
  writeFileSync(files.html, intervalsHtml(metrics, { title: `juice run over ${s.seeds.length} seeds: SFT vs SFT+IRFT vs SFT+RFT vs SFT+control`, level: s.level, seeds: s.seeds, reference: ARM_NAMES.control, facts }));
  return files;
}

/**
 * Every seed in turn; a seed's finished arms are kept across reruns by its own run-state.json. The
 * runs are sequential: the machine's cores are shared by the roles of one run already.
 */
export async function runSeeds(input: PipelineInput, n: number): Promise<{ summary: SeedsSummary; runs: { seed: number; out: string; result: RunResult }[] }> {
  const runs: { seed: number; out: string; result: RunResult }[] = [];
  const seeds = seedList(input.plan.seed, n);
  const t0 = performance.now();
  const saved = (seed: number) => existsSync(join(seedOut(input.out, seed, n), STATE_FILE));
  // --resume needs a run to continue; seeds that never started simply start (a larger N adds seeds).
  if (input.resume && !seeds.some(saved)) throw new ConfigError(`--resume: no seed of ${input.out} has a ${STATE_FILE} (looked in ${seedOut(input.out, seeds[0]!, n)} …), so there is no run to resume`);
  for (const [k, seed] of seeds.entries()) {
    const elapsed = (performance.now() - t0) / 1000;
    const eta = k > 0 ? `, about ${Math.round(((elapsed / k) * (n - k)) / 60)} min left` : '';
    input.say(`seed ${seed} (${k + 1}/${n}${eta})`);
    const out = seedOut(input.out, seed, n);
    const result = await runPipeline({ ...input, out, plan: planForSeed(input.plan, seed), resume: input.resume && saved(seed) });
    writeRunReport(out, result);
    runs.push({ seed, out, result });
  }
  return { summary: summarizeSeeds(runs), runs };
}
