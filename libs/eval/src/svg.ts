// Dependency-free SVG charts (inline in HTML reports, or standalone files): line charts for
// training curves (loss, implicit-reward margin) and grouped bar charts with error bars for eval
// metrics of one or several models. Colours follow series order so the same model/metric keeps
// its colour across every chart of a page.

export interface LinePoint {
  x: number;
  y: number;
}

export interface LineSeries {
  name: string;
  /** [x, y] pairs or {x, y}; non-finite points break the line. */
  points: readonly (readonly [number, number] | LinePoint)[];
  /** CSS colour; default from the palette by series index. */
  color?: string;
}

export interface ChartOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
  /** Fixed y range; default from the data (bars always include 0). */
  yMin?: number;
  yMax?: number;
  /** Add the xmlns attribute, for writing the chart to a .svg file (inline HTML needs none). */
  standalone?: boolean;
}

export interface Bar {
  /** Series the bar belongs to (a model or a metric); picks its colour and legend entry. */
  series: string;
  value: number;
  /** Half-width of the error bar (e.g. stderr); omitted or non-finite = none. */
  error?: number;
}

export interface BarGroup {
  label: string;
  bars: readonly Bar[];
}

export const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** Compact number text for ticks and labels. */
export function formatNumber(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e6 || a < 1e-3) return v.toExponential(2);
  if (Number.isInteger(v)) return String(v);
  if (a >= 100) return v.toFixed(1);
  return String(Number(v.toPrecision(4)));
}

/** About `count` round tick values covering [min, max] (1-2-5 steps). */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) {
    const d = min === 0 ? 1 : Math.abs(min) * 0.1;
    return niceTicks(min - d, max + d, count);
  }
  const raw = (max - min) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
  const ticks: number[] = [];
  for (let t = Math.floor(min / step) * step; t <= max + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  if (ticks[ticks.length - 1]! < max) ticks.push(Number((ticks[ticks.length - 1]! + step).toPrecision(12)));
  return ticks;
}

interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

function open(o: ChartOptions, f: Frame, kind: string): string[] {
  const ns = o.standalone ? ' xmlns="http://www.w3.org/2000/svg"' : '';
  const out = [
    `<svg${ns} class="chart ${kind}" width="${f.width}" height="${f.height}" viewBox="0 0 ${f.width} ${f.height}" role="img" font-family="system-ui, sans-serif" font-size="11">`,
  ];
  if (o.title) {
    out.push(`<title>${escapeXml(o.title)}</title>`);
    out.push(`<text x="${f.width / 2}" y="16" text-anchor="middle" font-size="13" font-weight="600">${escapeXml(o.title)}</text>`);
  }
  return out;
}

function yAxis(out: string[], o: ChartOptions, f: Frame, ticks: number[], y: (v: number) => number): void {
  for (const t of ticks) {
    const py = y(t).toFixed(1);
    out.push(`<line x1="${f.left}" x2="${f.width - f.right}" y1="${py}" y2="${py}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${f.left - 6}" y="${py}" text-anchor="end" dominant-baseline="middle" fill="#555">${escapeXml(formatNumber(t))}</text>`);
  }
  out.push(`<line x1="${f.left}" x2="${f.left}" y1="${f.top}" y2="${f.height - f.bottom}" stroke="#888"/>`);
  if (o.yLabel) {
    const cy = (f.top + f.height - f.bottom) / 2;
    out.push(`<text transform="translate(14 ${cy}) rotate(-90)" text-anchor="middle" fill="#333">${escapeXml(o.yLabel)}</text>`);
  }
}

function legend(out: string[], names: readonly string[], colors: readonly string[], f: Frame): void {
  if (names.length < 2) return;
  let x = f.left;
  const y = f.top - 10;
  names.forEach((n, i) => {
    const label = truncate(n, 28);
    out.push(`<rect x="${x}" y="${y - 8}" width="10" height="10" fill="${colors[i]}"/>`);
    out.push(`<text x="${x + 14}" y="${y + 1}" fill="#333">${escapeXml(label)}</text>`);
    x += 24 + label.length * 6.5;
  });
}

function truncate(s: string, n: number): string {
  return s.length > n ? s.slice(0, n - 1) + '…' : s;
}

function pointOf(p: readonly [number, number] | LinePoint): LinePoint {
  return Array.isArray(p) ? { x: p[0]!, y: p[1]! } : (p as LinePoint);
}

/** A line chart of one or more series over a shared numeric x axis. */
export function svgLineChart(series: readonly LineSeries[], opts: ChartOptions = {}): string {
  const legendRows = series.length > 1 ? 1 : 0;
  const f: Frame = { width: opts.width ?? 640, height: opts.height ?? 320, left: 60, right: 16, top: opts.title ? 34 + legendRows * 16 : 16 + legendRows * 16, bottom: opts.xLabel ? 44 : 28 };
  const out = open(opts, f, 'line-chart');
  const pts = series.map((s) => s.points.map(pointOf).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)));
  const all = pts.flat();
  if (all.length === 0) {
    out.push(`<text x="${f.width / 2}" y="${f.height / 2}" text-anchor="middle" fill="#888">no data</text>`, '</svg>');
    return out.join('');
  }
  const xs = niceTicks(Math.min(...all.map((p) => p.x)), Math.max(...all.map((p) => p.x)), 6);
  const ys = niceTicks(opts.yMin ?? Math.min(...all.map((p) => p.y)), opts.yMax ?? Math.max(...all.map((p) => p.y)), 5);
  const [x0, x1, y0, y1] = [xs[0]!, xs.at(-1)!, ys[0]!, ys.at(-1)!];
  const x = (v: number) => f.left + ((v - x0) / (x1 - x0)) * (f.width - f.left - f.right);
  const y = (v: number) => f.height - f.bottom - ((v - y0) / (y1 - y0)) * (f.height - f.top - f.bottom);
  yAxis(out, opts, f, ys, y);
  const base = f.height - f.bottom;
  out.push(`<line x1="${f.left}" x2="${f.width - f.right}" y1="${base}" y2="${base}" stroke="#888"/>`);
  for (const t of xs) out.push(`<text x="${x(t).toFixed(1)}" y="${base + 14}" text-anchor="middle" fill="#555">${escapeXml(formatNumber(t))}</text>`);
  if (opts.xLabel) out.push(`<text x="${(f.left + f.width - f.right) / 2}" y="${f.height - 8}" text-anchor="middle" fill="#333">${escapeXml(opts.xLabel)}</text>`);
  const colors = series.map((s, i) => s.color ?? PALETTE[i % PALETTE.length]!);
  series.forEach((s, i) => {
    // Non-finite points split the path so a diverged step shows as a gap, not a spike.
    let d = '';
    let pen = false;
    for (const raw of s.points) {
      const p = pointOf(raw);
      if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${x(p.x).toFixed(1)} ${y(p.y).toFixed(1)}`;
      pen = true;
    }
    out.push(`<path d="${d}" fill="none" stroke="${colors[i]}" stroke-width="1.8"><title>${escapeXml(s.name)}</title></path>`);
    // Markers only for short series, where single points matter (a few eval steps).
    if (pts[i]!.length <= 40)
      for (const p of pts[i]!)
        out.push(`<circle cx="${x(p.x).toFixed(1)}" cy="${y(p.y).toFixed(1)}" r="2.5" fill="${colors[i]}"><title>${escapeXml(`${s.name}: (${formatNumber(p.x)}, ${formatNumber(p.y)})`)}</title></circle>`);
  });
  legend(out, series.map((s) => s.name), colors, f);
  out.push('</svg>');
  return out.join('');
}

/** Grouped bars (groups along x, one bar per series in each group) with optional error bars. */
export function svgBarChart(groups: readonly BarGroup[], opts: ChartOptions & { seriesOrder?: readonly string[] } = {}): string {
  const names = opts.seriesOrder ? [...opts.seriesOrder] : [];
  for (const g of groups) for (const b of g.bars) if (!names.includes(b.series)) names.push(b.series);
  const colors = names.map((_, i) => PALETTE[i % PALETTE.length]!);
  const perGroup = Math.max(1, ...groups.map((g) => g.bars.length));
  const legendRows = names.length > 1 ? 1 : 0;
  const width = opts.width ?? Math.max(360, Math.min(1200, 80 + groups.length * (perGroup * 22 + 28)));
  const f: Frame = { width, height: opts.height ?? 300, left: 60, right: 16, top: opts.title ? 34 + legendRows * 16 : 16 + legendRows * 16, bottom: opts.xLabel ? 58 : 44 };
  const out = open(opts, f, 'bar-chart');
  const finite = groups.flatMap((g) => g.bars.filter((b) => Number.isFinite(b.value)));
  if (finite.length === 0) {
    out.push(`<text x="${f.width / 2}" y="${f.height / 2}" text-anchor="middle" fill="#888">no data</text>`, '</svg>');
    return out.join('');
  }
  const hi = finite.map((b) => b.value + (Number.isFinite(b.error) ? b.error! : 0));
  const lo = finite.map((b) => b.value - (Number.isFinite(b.error) ? b.error! : 0));
  const ys = niceTicks(opts.yMin ?? Math.min(0, ...lo), opts.yMax ?? Math.max(0, ...hi), 5);
  const [y0, y1] = [ys[0]!, ys.at(-1)!];
  const y = (v: number) => f.height - f.bottom - ((Math.min(Math.max(v, y0), y1) - y0) / (y1 - y0)) * (f.height - f.top - f.bottom);
  yAxis(out, opts, f, ys, y);
  const base = y(Math.max(y0, Math.min(0, y1)));
  out.push(`<line x1="${f.left}" x2="${f.width - f.right}" y1="${base}" y2="${base}" stroke="#888"/>`);
  const slot = (f.width - f.left - f.right) / Math.max(1, groups.length);
  const barW = Math.max(4, Math.min(40, (slot - 12) / perGroup));
  groups.forEach((g, gi) => {
    const gx = f.left + gi * slot + (slot - barW * g.bars.length) / 2;
    g.bars.forEach((b, bi) => {
      const color = colors[names.indexOf(b.series)]!;
      const bx = gx + bi * barW;
      const label = `${g.label} · ${b.series}: ${formatNumber(b.value)}${Number.isFinite(b.error) ? ` ± ${formatNumber(b.error!)}` : ''}`;
      if (!Number.isFinite(b.value)) {
        out.push(`<text x="${(bx + barW / 2).toFixed(1)}" y="${base - 4}" text-anchor="middle" fill="#c00">${escapeXml(formatNumber(b.value))}</text>`);
        return;
      }
      const top = Math.min(y(b.value), base);
      const h = Math.abs(y(b.value) - base);
      out.push(`<rect x="${(bx + 1).toFixed(1)}" y="${top.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${color}"><title>${escapeXml(label)}</title></rect>`);
      if (Number.isFinite(b.error) && b.error! > 0) {
        const cx = (bx + barW / 2).toFixed(1);
        const [ya, yb] = [y(b.value - b.error!).toFixed(1), y(b.value + b.error!).toFixed(1)];
        out.push(`<path d="M${cx} ${ya}V${yb}M${(bx + barW / 2 - 3).toFixed(1)} ${ya}h6M${(bx + barW / 2 - 3).toFixed(1)} ${yb}h6" stroke="#222" stroke-width="1"/>`);
      }
    });
    const lx = (f.left + gi * slot + slot / 2).toFixed(1);
    out.push(`<text x="${lx}" y="${f.height - f.bottom + 14}" text-anchor="middle" fill="#333">${escapeXml(truncate(g.label, Math.max(6, Math.floor(slot / 6.5))))}<title>${escapeXml(g.label)}</title></text>`);
  });
  if (opts.xLabel) out.push(`<text x="${(f.left + f.width - f.right) / 2}" y="${f.height - 8}" text-anchor="middle" fill="#333">${escapeXml(opts.xLabel)}</text>`);
  legend(out, names, colors, f);
  out.push('</svg>');
  return out.join('');
}
