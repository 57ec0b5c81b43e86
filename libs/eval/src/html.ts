// The self-contained page shell shared by eval and comparison reports: inline CSS only, no
// scripts, fonts or images fetched from anywhere, so a report opens offline and from a mail.
import { escapeXml, formatNumber } from './svg.js';

export const escapeHtml = escapeXml;

const CSS = `
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1200px;padding:0 16px;color:#222}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#555;font-size:13px}.meta span{margin-right:16px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f5f5f5}td.num{text-align:right;font-variant-numeric:tabular-nums}td.best{font-weight:700}
.charts{display:flex;flex-wrap:wrap;gap:16px}.charts figure{margin:0;border:1px solid #eee;padding:4px}
details{margin:6px 0}pre{white-space:pre-wrap;margin:0;font-size:12px;max-height:12em;overflow:auto}
`;

export function page(title: string, body: string): string {
  return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title><style>${CSS}</style></head><body>${body}</body></html>\n`;
}

/** Metric value text; non-finite values (a diverged model's perplexity) are spelled out. */
export function fmtMetric(v: number | null | undefined): string {
  if (v === null || v === undefined) return '—';
  return formatNumber(v);
}

export function figure(svg: string): string {
  return `<figure>${svg}</figure>`;
}

/** Metrics naturally in [0, 1], plotted together on one axis. */
export const BOUNDED_METRICS: ReadonlySet<string> = new Set(['acc', 'acc_norm', 'exact_match', 'win_rate', 'mean_prob_preferred']);

/** Metrics where lower is better (for highlighting the best model). */
export const LOWER_IS_BETTER: ReadonlySet<string> = new Set(['nll', 'perplexity', 'bits_per_byte', 'word_perplexity']);
