// The main job's files in --out: results.json (every number, the plan, timings, curves) and report.html
// (libs/eval's self-contained comparison page: metric table, eval bar charts, loss and margin curves
// from the WatchJob metrics), plus the table as text.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compareHtml, escapeXml, type CurveChart, type LineSeries, type ModelMetrics } from '@juice/eval';
import type { ArmResult, RunResult } from './result.js';
import { formatTable, tableRows } from './summary.js';

export interface ReportFiles {
  json: string;
  html: string;
  table: string;
}

/** JSON has no NaN/Infinity: they become null. */
const finiteOrNull = (_k: string, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v);

function armMetrics(a: ArmResult): ModelMetrics {
  const m: Record<string, number> = {};
  for (const [k, v] of Object.entries(a.eval?.metrics ?? {})) {
    m[k] = v.value;
    if (v.stderr !== undefined) m[`${k}_stderr`] = v.stderr;
  }
  if (a.margin) {
    m['heldout_implicit_reward/margin'] = a.margin.margin;
    if (a.margin.logpGap !== undefined) m['heldout_logp_gap/nats'] = a.margin.logpGap;
    if (a.key !== 'sft') m['heldout_implicit_reward/acc'] = a.margin.accuracy;
  }
  return { name: a.name, metrics: m };
}

/** Every arm's steps on one x axis: optimizer steps since the base model (the others continue SFT). */
function curves(r: RunResult): CurveChart[] {
  const sft = r.arms.find((a) => a.key === 'sft');
  const offset = (a: ArmResult) => (a.key === 'sft' ? 0 : (sft?.steps ?? 0));
  const series = (name: string, metric: string, arms: ArmResult[]): LineSeries[] =>
    arms
      .map((a) => ({ name: `${a.name} ${name}`, points: a.curve.filter((s) => s.metrics[metric] !== undefined).map((s) => [s.step + offset(a), s.metrics[metric]!] as [number, number]) }))
      .filter((s) => s.points.length > 0);
  const trained = r.arms.filter((a) => a.curve.length > 0);
  const after = trained.filter((a) => a.key !== 'sft');
  const charts: CurveChart[] = [
    { title: 'Training loss (each arm continues from the SFT checkpoint)', xLabel: 'optimizer step since the base model', yLabel: 'loss', series: series('loss', 'loss', trained) },
    { title: 'Training loss after SFT', xLabel: 'optimizer step since the base model', yLabel: 'loss', series: series('loss', 'loss', after) },
    { title: 'IRFT implicit-reward margin β·Δlog-ratio (resets to 0 at each stage: π_ref = stage start)', xLabel: 'optimizer step since the base model', yLabel: 'margin', series: series('margin', 'reward/margin', after) },
    { title: 'IRFT implicit rewards of demonstration and own sample', xLabel: 'optimizer step since the base model', yLabel: 'reward', series: [...series('r(demonstration)', 'reward/chosen', after), ...series('r(own sample)', 'reward/rejected', after)] },
  ];
  const rft = series('reward', 'reward/mean', after);
  if (rft.length > 0) charts.push({ title: 'RFT mean reward of rollouts', xLabel: 'optimizer step since the base model', yLabel: 'reward', series: rft });
  return charts.filter((c) => c.series.length > 0);
}

function runSection(r: RunResult): string {
  const tr = (k: string, v: string) => `<tr><th>${escapeXml(k)}</th><td>${escapeXml(v)}</td></tr>`;
  const notes = r.arms.filter((a) => a.status !== 'ok').map((a) => tr(a.name, `${a.status === 'unavailable' ? 'not available in this trainer' : 'failed'}${a.note ? `: ${a.note}` : ''}`));
  const rows = [
    tr('model', r.model),
    tr('training data', `${r.data.train}${r.data.synthetic ? ' (synthetic, made by juice)' : ''}${r.data.trainRows ? `, ${r.data.trainRows} rows` : ''}`),
    tr('held-out data', r.data.heldout ?? '—'),
    ...(r.splits ? [tr('settings chosen on', r.splits.tuning), tr('table measured on', r.splits.table)] : []),
    tr('evaluated via', r.evalPath === 'model' ? 'the evaluator loading each checkpoint (target.model)' : `a live generator serving each checkpoint (target.generator_address)${r.evalPathNote ? ` — ${r.evalPathNote}` : ''}`),
    tr('held-out margin', `β=${r.margin.beta}, ${r.margin.pairs} prompts (of ${r.margin.considered}; ${r.margin.identical} where SFT already answers exactly, ${r.margin.empty} empty answers, left out)`),
    tr('wall time', `${r.wallSeconds.toFixed(1)} s on ${r.machine.cpus} cores; load average ${r.machine.loadavgStart.map((x) => x.toFixed(2)).join(' ')} at start, ${r.machine.loadavgEnd.map((x) => x.toFixed(2)).join(' ')} at end`),
    tr('phases (s)', Object.entries(r.phases).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')),
    ...r.arms.filter((a) => a.status === 'ok').map((a) => tr(`${a.name} job`, `${a.jobId ?? ''}: ${a.steps} steps in ${a.trainSeconds.toFixed(1)} s → ${a.checkpoint ?? ''}`)),
    ...notes,
    tr('plan', JSON.stringify(r.plan)),
  ];
  const table = tableRows(r);
  const summary = `<table><tr><th>metric</th>${r.arms.map((a) => `<th>${escapeXml(a.name)}</th>`).join('')}</tr>${table
    .map((row) => `<tr><td>${escapeXml(row.label)}</td>${row.values.map((v, i) => `<td class="num">${r.arms[i]!.status !== 'ok' ? 'n/a' : v === undefined ? '—' : escapeXml(Number.isFinite(v) ? v.toFixed(row.digits) : String(v))}</td>`).join('')}</tr>`)
    .join('')}</table>`;
  return `<h2>Run</h2><table>${rows.join('')}</table><h2>Comparison</h2>${summary}`;
}

export function writeRunReport(out: string, r: RunResult): ReportFiles {
  const files = { json: join(out, 'results.json'), html: join(out, 'report.html'), table: join(out, 'table.txt') };
  const table = formatTable(r);
  writeFileSync(files.json, JSON.stringify({ ...r, table: tableRows(r) }, finiteOrNull, 1) + '\n');
  writeFileSync(files.table, table);
  const page = compareHtml(r.arms.filter((a) => a.status === 'ok').map(armMetrics), curves(r), { title: 'juice run: SFT vs SFT+IRFT vs SFT+RFT vs SFT+control' });
  // compareHtml renders the metric table and charts; the run's own facts go right under its title.
  writeFileSync(files.html, page.replace('</h1>', `</h1>${runSection(r)}`));
  return files;
}
