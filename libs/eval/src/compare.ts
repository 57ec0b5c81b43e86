// Side-by-side comparison of several models (e.g. SFT vs IRFT vs RFT) plus training curves,
// for the main job's summary page.
import type { JsonObject, JsonValue } from '@bufbuild/protobuf';
import { BOUNDED_METRICS, LOWER_IS_BETTER, escapeHtml, figure, fmtMetric, page } from './html.js';
import { svgBarChart, svgLineChart, type BarGroup, type ChartOptions, type LineSeries } from './svg.js';

/**
 * Metrics of one model: flat {"<task>/<metric>": v} (TaskResult metric keys), or the nested
 * reportJson layout ({"<task>": {"<metric>": v, "<metric>_stderr": v}, "_meta": …}).
 */
export type MetricsLike = Record<string, number | null | JsonValue>;

export interface ModelMetrics {
  name: string;
  metrics: MetricsLike;
}

export interface CurveChart extends ChartOptions {
  series: LineSeries[];
}

interface Value {
  value: number;
  stderr?: number;
}

/** Flattens either layout to "<task>/<metric>" → value (and stderr when present). */
export function flattenMetrics(m: MetricsLike): Map<string, Value> {
  const out = new Map<string, Value>();
  const put = (key: string, v: unknown, se: unknown) => {
    if (typeof v !== 'number' && v !== null) return;
    out.set(key, { value: v === null ? NaN : v, ...(typeof se === 'number' ? { stderr: se } : {}) });
  };
  for (const [k, v] of Object.entries(m)) {
    if (k.startsWith('_') || k.endsWith('_stderr')) continue;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as JsonObject;
      for (const [mk, mv] of Object.entries(o)) if (!mk.endsWith('_stderr')) put(`${k}/${mk}`, mv, o[`${mk}_stderr`]);
    } else put(k, v, m[`${k}_stderr`]);
  }
  return out;
}

function metricName(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}

function taskName(key: string): string {
  const i = key.lastIndexOf('/');
  return i < 0 ? key : key.slice(0, i);
}

export function compareHtml(models: readonly ModelMetrics[], curves: readonly CurveChart[] = [], opts: { title?: string } = {}): string {
  const title = opts.title ?? `Comparison: ${models.map((m) => m.name).join(' vs ')}`;
  const flat = models.map((m) => flattenMetrics(m.metrics));
  const keys = [...new Set(flat.flatMap((f) => [...f.keys()]))].sort();

  const rows = keys
    .map((k) => {
      const vals = flat.map((f) => f.get(k));
      const finite = vals.map((v) => (v && Number.isFinite(v.value) ? v.value : undefined));
      const present = finite.filter((v): v is number => v !== undefined);
      const best = present.length > 1 ? (LOWER_IS_BETTER.has(metricName(k)) ? Math.min(...present) : Math.max(...present)) : undefined;
      const cells = vals
        .map((v, i) => {
          if (!v) return '<td class="num">—</td>';
          const cls = finite[i] !== undefined && finite[i] === best ? 'num best' : 'num';
          return `<td class="${cls}">${fmtMetric(v.value)}${v.stderr !== undefined ? ` <small>± ${fmtMetric(v.stderr)}</small>` : ''}</td>`;
        })
        .join('');
      return `<tr><td>${escapeHtml(k)}</td>${cells}</tr>`;
    })
    .join('');

  const names = models.map((m) => m.name);
  const barsFor = (k: string) =>
    flat.flatMap((f, i) => {
      const v = f.get(k);
      return v ? [{ series: names[i]!, value: v.value, ...(v.stderr !== undefined ? { error: v.stderr } : {}) }] : [];
    });
  const svgs: string[] = [];
  const boundedKeys = keys.filter((k) => BOUNDED_METRICS.has(metricName(k)));
  if (boundedKeys.length > 0)
    svgs.push(svgBarChart(boundedKeys.map((k) => ({ label: k, bars: barsFor(k) })), { title: 'Accuracy-like metrics (± stderr)', yLabel: 'score', yMin: 0, yMax: 1, seriesOrder: names }));
  // Unbounded metrics on their own axes: one chart per metric name, tasks along x.
  const byMetric = new Map<string, string[]>();
  for (const k of keys.filter((k) => !BOUNDED_METRICS.has(metricName(k)))) byMetric.set(metricName(k), [...(byMetric.get(metricName(k)) ?? []), k]);
  for (const [m, ks] of byMetric) {
    const groups: BarGroup[] = ks.map((k) => ({ label: taskName(k), bars: barsFor(k) }));
    svgs.push(svgBarChart(groups, { title: `${m}${LOWER_IS_BETTER.has(m) ? ' (lower is better)' : ''}`, yLabel: m, seriesOrder: names }));
  }
  for (const c of curves) svgs.push(svgLineChart(c.series, c));

  const body = [
    `<h1>${escapeHtml(title)}</h1>`,
    '<h2>Metrics</h2>',
    keys.length > 0
      ? `<table><tr><th>metric</th>${names.map((n) => `<th>${escapeHtml(n)}</th>`).join('')}</tr>${rows}</table>`
      : '<p>No metrics.</p>',
    '<h2>Charts</h2>',
    `<div class="charts">${svgs.map(figure).join('')}</div>`,
  ].join('\n');
  return page(title, body);
}
