// Evaluation results as plain-text tables for a terminal: one run's metrics (`juice eval`, `juice
// report --run ID`), or several runs side by side (`juice report --run A --run B`).
import type { TaskResult } from '@juice/proto';

/** Fixed decimals for the usual [0, 100] range, significant digits beyond it (perplexities of untrained models). */
export function formatMetric(v: number | undefined): string {
  if (v === undefined) return '—';
  if (!Number.isFinite(v)) return String(v);
  return Math.abs(v) < 1e4 ? v.toFixed(4) : v.toPrecision(6);
}

function render(header: string[], rows: string[][], rightAligned: (col: number) => boolean): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (rightAligned(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n') + '\n';
}

/** task, metric, value, ± stderr, documents. */
export function metricsTable(results: readonly TaskResult[]): string {
  const rows = results.flatMap((r) =>
    Object.entries(r.metrics).map(([m, v]) => [r.task, m, formatMetric(v), r.stderr[m] !== undefined ? `± ${formatMetric(r.stderr[m])}` : '', String(r.numDocs)]),
  );
  return render(['task', 'metric', 'value', 'stderr', 'docs'], rows, (i) => i >= 2);
}

export interface RunColumn {
  /** Column header: the run's name, else its id. */
  label: string;
  results: readonly TaskResult[];
}

/** One row per task/metric present in any run; "—" where a run lacks it. */
export function comparisonTable(columns: readonly RunColumn[]): string {
  const keys: string[] = [];
  const values = columns.map((c) => {
    const m = new Map<string, number>();
    for (const r of c.results)
      for (const [k, v] of Object.entries(r.metrics)) {
        const key = `${r.task}/${k}`;
        if (!keys.includes(key)) keys.push(key);
        m.set(key, v);
      }
    return m;
  });
  const rows = keys.map((k) => [k, ...values.map((m) => formatMetric(m.get(k)))]);
  return render(['metric', ...columns.map((c) => c.label)], rows, (i) => i >= 1);
}
