// The comparison table printed at the end of `juice run`: one column per arm, one row per metric, with
// the arms that have no numbers (e.g. RFT on a trainer without its runner) said plainly under it.
import type { ArmResult, RunResult } from './result.js';

export interface TableRow {
  label: string;
  /** One cell per arm, in the order of RunResult.arms; undefined = not measured. */
  values: (number | undefined)[];
  /** Digits after the point. */
  digits: number;
  /** "lower" / "higher" is better, for the reader. */
  better?: 'lower' | 'higher';
}

const LOWER = /(^|\/)(nll|perplexity|bits_per_byte|word_perplexity)$/;

/** The rows of the table, shared by the terminal output and the JSON. */
export function tableRows(r: RunResult): TableRow[] {
  const arms = r.arms;
  const metricKeys = [...new Set(arms.flatMap((a) => Object.keys(a.eval?.metrics ?? {})))].sort();
  const rows: TableRow[] = [
    { label: 'optimizer steps (own job)', values: arms.map((a) => (a.status === 'ok' ? a.steps : undefined)), digits: 0 },
    { label: 'train seconds', values: arms.map((a) => (a.status === 'ok' ? a.trainSeconds : undefined)), digits: 1 },
  ];
  for (const k of metricKeys) rows.push({ label: k, values: arms.map((a) => a.eval?.metrics[k]?.value), digits: 4, better: LOWER.test(k) ? 'lower' : 'higher' });
  rows.push({ label: `heldout implicit-reward margin (β=${r.margin.beta})`, values: arms.map((a) => a.margin?.margin), digits: 4, better: 'higher' });
  rows.push({ label: 'heldout margin accuracy', values: arms.map((a) => (a.key === 'sft' ? undefined : a.margin?.accuracy)), digits: 3, better: 'higher' });
  // Figure 1 of the paper: the gap of each arm after training; SFT's column is the gap before every arm.
  rows.push({ label: "log π(demonstration) − log π(SFT's answer), nats", values: arms.map((a) => a.margin?.logpGap), digits: 3, better: 'higher' });
  rows.push({ label: 'Δ log π(demonstration) vs SFT', values: arms.map((a) => a.margin?.chosenLogpDelta), digits: 3, better: 'higher' });
  rows.push({ label: "Δ log π(SFT's own answer) vs SFT", values: arms.map((a) => a.margin?.rejectedLogpDelta), digits: 3 });
  rows.push({ label: 'train margin, last step', values: arms.map((a) => lastMetric(a, 'reward/margin')), digits: 3 });
  return rows;
}

export function lastMetric(a: ArmResult, name: string): number | undefined {
  for (let i = a.curve.length - 1; i >= 0; i--) {
    const v = a.curve[i]!.metrics[name];
    if (v !== undefined) return v;
  }
  return undefined;
}

function cell(v: number | undefined, digits: number): string {
  if (v === undefined) return '—';
  if (!Number.isFinite(v)) return String(v);
  return v.toFixed(digits);
}

export function formatTable(r: RunResult): string {
  const rows = tableRows(r);
  const head = ['metric', ...r.arms.map((a) => a.name)];
  const body = rows.map((row) => [`${row.label}${row.better ? (row.better === 'lower' ? ' ↓' : ' ↑') : ''}`, ...row.values.map((v, i) => (r.arms[i]!.status === 'ok' ? cell(v, row.digits) : 'n/a'))]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)];
  for (const a of r.arms) if (a.status !== 'ok') out.push(`${a.name.replace(/^SFT\+/, '')}: ${a.status === 'unavailable' ? 'not available in this trainer' : 'failed'}${a.note ? ` (${a.note})` : ''}`);
  out.push(
    `evaluated via ${r.evalPath === 'model' ? 'the evaluator loading each checkpoint (target.model)' : 'a live generator serving each checkpoint (target.generator_address)'}` +
      `; margin over ${r.margin.pairs} held-out prompts (${r.margin.identical} where SFT already answers exactly and ${r.margin.empty} empty answers left out)`,
  );
  if (r.splits) out.push(`settings chosen on: ${r.splits.tuning}`, `table measured on: ${r.splits.table}`);
  out.push(`wall time ${r.wallSeconds.toFixed(1)} s on ${r.machine.cpus} cores (load average at start ${r.machine.loadavgStart.map((x) => x.toFixed(2)).join(' ')}, at end ${r.machine.loadavgEnd.map((x) => x.toFixed(2)).join(' ')})`);
  return out.join('\n') + '\n';
}
