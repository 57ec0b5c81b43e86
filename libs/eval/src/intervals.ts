// A self-contained page for results repeated over seeds: per metric, each model's mean with its
// confidence interval (error bars) and each model's difference from a reference model with the
// interval of the paired difference. The caller computes the intervals (stats.ts meanInterval,
// pairedDifferenceInterval); this only lays them out.
import { escapeHtml, figure, page } from './html.js';
import { formatNumber, svgBarChart, type BarGroup } from './svg.js';

export interface IntervalValue {
  name: string;
  mean: number;
  /** Half-width of the interval; NaN = none (a single seed). */
  halfWidth: number;
  /** Seeds that gave a value. */
  n: number;
}

export interface IntervalMetric {
  label: string;
  better?: 'lower' | 'higher';
  values: IntervalValue[];
  /** value − reference, paired by seed. */
  differences: IntervalValue[];
}

export interface IntervalsPageOptions {
  title: string;
  /** e.g. 0.95. */
  level: number;
  seeds: number[];
  /** The model the differences are taken from. */
  reference: string;
  /** Facts shown under the title (key, value). */
  facts?: [string, string][];
}

const cell = (v: IntervalValue | undefined, seeds: number, signed = false) => {
  if (!v) return '—';
  const m = formatNumber(v.mean);
  const hw = Number.isFinite(v.halfWidth) ? ` ± ${formatNumber(v.halfWidth)}` : '';
  return `${signed && v.mean > 0 ? '+' : ''}${m}${hw}${v.n < seeds ? ` (n=${v.n})` : ''}`;
};

const excludesZero = (v: IntervalValue) => Number.isFinite(v.halfWidth) && (v.mean - v.halfWidth > 0 || v.mean + v.halfWidth < 0);

export function intervalsHtml(metrics: readonly IntervalMetric[], o: IntervalsPageOptions): string {
  const pct = `${Math.round(o.level * 100)} %`;
  const n = o.seeds.length;
  const names = [...new Set(metrics.flatMap((m) => m.values.map((v) => v.name)))];
  const diffNames = [...new Set(metrics.flatMap((m) => m.differences.map((v) => v.name)))];
  const arrow = (m: IntervalMetric) => (m.better ? (m.better === 'lower' ? ' ↓' : ' ↑') : '');
  const facts = (o.facts ?? []).map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('');
  const means = `<table><tr><th>metric</th>${names.map((x) => `<th>${escapeHtml(x)}</th>`).join('')}</tr>${metrics
    .map((m) => `<tr><td>${escapeHtml(m.label + arrow(m))}</td>${names.map((x) => `<td class="num">${escapeHtml(cell(m.values.find((v) => v.name === x), n))}</td>`).join('')}</tr>`)
    .join('')}</table>`;
  const diffs = `<table><tr><th>metric</th>${diffNames.map((x) => `<th>${escapeHtml(`${x} − ${o.reference}`)}</th>`).join('')}</tr>${metrics
    .filter((m) => m.differences.length > 0)
    .map((m) => `<tr><td>${escapeHtml(m.label + arrow(m))}</td>${diffNames
      .map((x) => {
        const v = m.differences.find((d) => d.name === x);
        return `<td class="num${v && excludesZero(v) ? ' best' : ''}">${escapeHtml(cell(v, n, true))}</td>`;
      })
      .join('')}</tr>`)
    .join('')}</table>`;
  const bars = (values: IntervalValue[]): BarGroup[] => values.map((v) => ({ label: v.name, bars: [{ series: v.name, value: v.mean, error: v.halfWidth }] }));
  const charts = metrics
    .filter((m) => m.values.length > 0)
    .map((m) => {
      const own = figure(svgBarChart(bars(m.values), { title: `${m.label}${arrow(m)}: mean ± ${pct} CI`, seriesOrder: names, width: 380, height: 260 }));
      const diff = m.differences.length ? figure(svgBarChart(bars(m.differences), { title: `${m.label}: − ${o.reference}, paired ± ${pct} CI`, seriesOrder: names, width: 380, height: 260 })) : '';
      return own + diff;
    })
    .join('');
  const body = [
    `<h1>${escapeHtml(o.title)}</h1>`,
    `<p class="meta">${n} seeds (${escapeHtml(o.seeds.join(', '))}); intervals are ${pct} t-intervals over seeds (t with n − 1 degrees of freedom); differences are paired by seed; bold = the interval excludes 0</p>`,
    facts ? `<h2>Run</h2><table>${facts}</table>` : '',
    `<h2>Mean ± ${pct} CI half-width</h2>${means}`,
    `<h2>Difference from ${escapeHtml(o.reference)}, paired by seed</h2>${diffs}`,
    `<h2>Charts</h2><div class="charts">${charts}</div>`,
  ].join('');
  return page(o.title, body);
}
