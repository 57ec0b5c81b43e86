// Run reports: the GetReportResponse.metrics Struct ({"<task>": {"<metric>": v,
// "<metric>_stderr": v}, "_meta": {...}}) and a self-contained HTML page with tables and charts.
import { create, isMessage, type JsonObject, type JsonValue, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { EvalRunSchema, RunState, TaskKind, type EvalRun, type TaskResult } from '@juice/proto';
import { BOUNDED_METRICS, escapeHtml, figure, fmtMetric, page } from './html.js';
import { DEFAULT_SEED } from './run.js';
import { svgBarChart, type BarGroup } from './svg.js';

export type EvalRunLike = EvalRun | MessageInitShape<typeof EvalRunSchema>;

function runOf(run: EvalRunLike): EvalRun {
  return isMessage(run, EvalRunSchema) ? run : create(EvalRunSchema, run);
}

/** Struct values are doubles: bigints become numbers when exact, else decimal strings. */
function big(v: bigint): JsonValue {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
}

/** JSON has no NaN/Infinity; those become null (the HTML report spells them out). */
function num(v: number | undefined): JsonValue {
  return v !== undefined && Number.isFinite(v) ? v : null;
}

function modelVersion(run: EvalRun, results: readonly TaskResult[]): bigint {
  return run.model?.weightVersion?.number ?? results.flatMap((r) => r.weightVersions).reduce((a, b) => (b > a ? b : a), 0n);
}

export function reportJson(runLike: EvalRunLike, results: readonly TaskResult[]): JsonObject {
  const run = runOf(runLike);
  const out: JsonObject = {};
  const tasksMeta: JsonObject = {};
  for (const r of results) {
    const t: JsonObject = {};
    for (const [m, v] of Object.entries(r.metrics)) {
      t[m] = num(v);
      if (r.stderr[m] !== undefined) t[`${m}_stderr`] = num(r.stderr[m]);
    }
    out[r.task] = t;
    tasksMeta[r.task] = {
      kind: TaskKind[r.kind] ?? String(r.kind),
      num_docs: big(r.numDocs),
      num_fewshot: r.numFewshot,
      duration_s: r.duration ? Number(r.duration.seconds) + r.duration.nanos / 1e9 : null,
      task_sha256: r.taskSha256,
      data_sha256: r.dataSha256,
      weight_versions: r.weightVersions.map(big),
    };
  }
  const seed = run.request?.seed ? run.request.seed : DEFAULT_SEED;
  out['_meta'] = {
    run_id: run.runId,
    name: run.name,
    state: RunState[run.state] ?? String(run.state),
    model_name: run.model?.modelName ?? '',
    weight_version: big(modelVersion(run, results)),
    seed: big(seed),
    limit: run.request?.limit ?? 0,
    labels: { ...run.labels },
    created_at: run.createdAt ? timestampDate(run.createdAt).toISOString() : null,
    finished_at: run.finishedAt ? timestampDate(run.finishedAt).toISOString() : null,
    tasks: tasksMeta,
  };
  return out;
}

export interface ReportHtmlOptions {
  /** Include up to this many per-document samples per task (from TaskResult.samples). Default 0. */
  samples?: number;
}

/** Charts for one model's results: bounded metrics of every task together, one chart per other metric. */
function charts(results: readonly TaskResult[]): string[] {
  const svgs: string[] = [];
  const bounded: BarGroup[] = results
    .map((r) => ({
      label: r.task,
      bars: Object.entries(r.metrics)
        .filter(([m]) => BOUNDED_METRICS.has(m))
        .map(([m, v]) => ({ series: m, value: v, ...(r.stderr[m] !== undefined ? { error: r.stderr[m] } : {}) })),
    }))
    .filter((g) => g.bars.length > 0);
  if (bounded.length > 0) svgs.push(svgBarChart(bounded, { title: 'Accuracy-like metrics (± stderr)', yLabel: 'score', yMin: 0, yMax: 1 }));
  const others = [...new Set(results.flatMap((r) => Object.keys(r.metrics)).filter((m) => !BOUNDED_METRICS.has(m)))];
  for (const m of others) {
    const groups: BarGroup[] = results
      .filter((r) => r.metrics[m] !== undefined)
      .map((r) => ({ label: r.task, bars: [{ series: m, value: r.metrics[m]!, ...(r.stderr[m] !== undefined ? { error: r.stderr[m] } : {}) }] }));
    svgs.push(svgBarChart(groups, { title: `${m} (± stderr)`, yLabel: m }));
  }
  return svgs;
}

function samplesHtml(r: TaskResult, n: number): string {
  if (n <= 0 || r.samples.length === 0) return '';
  const rows = r.samples
    .slice(0, n)
    .map(
      (s) =>
        `<tr><td class="num">${s.docIndex}</td><td><pre>${escapeHtml(s.prompt)}</pre></td><td><pre>${escapeHtml(s.output)}</pre></td><td><pre>${escapeHtml(s.answer)}</pre></td><td><pre>${escapeHtml(s.target)}</pre></td><td>${escapeHtml(
          Object.entries(s.metrics)
            .map(([k, v]) => `${k}=${fmtMetric(v)}`)
            .join(' '),
        )}</td></tr>`,
    )
    .join('');
  return `<details><summary>${escapeHtml(r.task)}: ${Math.min(n, r.samples.length)} samples</summary><table><tr><th>doc</th><th>prompt</th><th>output</th><th>answer</th><th>target</th><th>metrics</th></tr>${rows}</table></details>`;
}

export function reportHtml(runLike: EvalRunLike, results: readonly TaskResult[], opts: ReportHtmlOptions = {}): string {
  const run = runOf(runLike);
  const title = `Evaluation ${run.name || run.runId || ''}`.trim();
  const version = modelVersion(run, results);
  const meta = [
    run.runId && `run <code>${escapeHtml(run.runId)}</code>`,
    `model ${escapeHtml(run.model?.modelName || '?')} (weights v${version})`,
    `state ${escapeHtml(RunState[run.state] ?? String(run.state))}`,
    run.createdAt && `created ${escapeHtml(timestampDate(run.createdAt).toISOString())}`,
    Object.keys(run.labels).length > 0 &&
      `labels ${escapeHtml(
        Object.entries(run.labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(', '),
      )}`,
  ].filter(Boolean);
  const rows = results
    .flatMap((r) =>
      Object.entries(r.metrics).map(
        ([m, v], i) =>
          `<tr>${i === 0 ? `<td rowspan="${Object.keys(r.metrics).length}">${escapeHtml(r.task)}<br><small>${escapeHtml(TaskKind[r.kind] ?? '')}, ${r.numDocs} docs, ${r.numFewshot}-shot</small></td>` : ''}<td>${escapeHtml(m)}</td><td class="num">${fmtMetric(v)}</td><td class="num">${r.stderr[m] !== undefined ? '± ' + fmtMetric(r.stderr[m]) : ''}</td></tr>`,
      ),
    )
    .join('');
  const body = [
    `<h1>${escapeHtml(title)}</h1>`,
    `<div class="meta">${meta.map((m) => `<span>${m}</span>`).join('')}</div>`,
    '<h2>Metrics</h2>',
    results.length > 0 ? `<table><tr><th>task</th><th>metric</th><th>value</th><th>stderr</th></tr>${rows}</table>` : '<p>No task has finished yet.</p>',
    '<h2>Charts</h2>',
    `<div class="charts">${charts(results).map(figure).join('')}</div>`,
    (opts.samples ?? 0) > 0 ? '<h2>Samples</h2>' + results.map((r) => samplesHtml(r, opts.samples!)).join('') : '',
  ].join('\n');
  return page(title, body);
}
