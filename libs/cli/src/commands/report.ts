// `juice report`: fetch an evaluation run's report (JSON + self-contained HTML) from the evaluator, or
// several runs' as one comparison table (and a comparison page); without --run, list recent runs.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { toJson, type JsonObject } from '@bufbuild/protobuf';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { compareHtml } from '@juice/eval';
import { EvaluatorService, GetReportResponseSchema, RunState, type GetReportResponse } from '@juice/proto';
import { applyPeerConfig, createClient, defineConfig, parseConfig, peerConfigSpec } from '@juice/service-kit';
import { comparisonTable, metricsTable } from '../eval-table.js';

export const reportSpec = defineConfig({
  ...peerConfigSpec, // --peer-tls-ca/-cert/-key and --peer-token-file: how to reach a secured role
  evaluator: { type: 'string', env: 'JUICE_EVALUATOR_ADDRESS', default: '127.0.0.1:50054', help: 'evaluator address' },
  run: { type: 'list', default: [], help: 'run id(s); several (comma separated or --run repeated) are compared side by side' },
  out: { type: 'string', help: 'directory for the report files (one run: report.json, report.html; several: <run>.json, <run>.html, compare.html)' },
  samples: { type: 'bool', default: false, help: 'include per-document samples in the JSON' },
});

type EvaluatorClient = ReturnType<typeof createClient<typeof EvaluatorService>>;

export function fetchReport(client: EvaluatorClient, runId: string, o: { html: boolean; samples: boolean }): Promise<GetReportResponse> {
  return client.getReport({ runId, includeHtml: o.html, includeSamples: o.samples });
}

/** report.json (the whole GetReportResponse as protobuf JSON, without the HTML) and report.html; returns the paths written. */
export function writeReport(report: GetReportResponse, dir: string, base = 'report'): string[] {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, `${base}.json`);
  writeFileSync(json, JSON.stringify(toJson(GetReportResponseSchema, { ...report, html: '' }), null, 2) + '\n');
  if (!report.html) return [json];
  const html = join(dir, `${base}.html`);
  writeFileSync(html, report.html);
  return [json, html];
}

/** `--run a --run b` means the same as `--run a,b` (the config parser keeps only a flag's last value). */
function joinRepeatedRuns(argv: string[]): string[] {
  const runs: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--run' && i + 1 < argv.length) runs.push(argv[++i]!);
    else if (a.startsWith('--run=')) runs.push(a.slice('--run='.length));
    else rest.push(a);
  }
  return runs.length > 0 ? [...rest, '--run', runs.join(',')] : rest;
}

async function listRuns(client: EvaluatorClient): Promise<number> {
  const { runs } = await client.listRuns({ pageSize: 20 });
  if (runs.length === 0) process.stdout.write('no evaluation runs on this evaluator\n');
  for (const r of runs) {
    const created = r.createdAt ? timestampDate(r.createdAt).toISOString() : '';
    process.stdout.write(`${r.runId}  ${(RunState[r.state] ?? '').padEnd(9)}  ${created}  ${r.name || '-'}  [${r.tasks.join(', ')}]\n`);
  }
  return 0;
}

export async function reportCommand(argv: string[]): Promise<number> {
  const c = parseConfig(reportSpec, joinRepeatedRuns(argv), process.env, { name: 'juice report', description: "Fetch evaluation reports from the evaluator (no --run: list its recent runs)." });
  applyPeerConfig(c);
  const client = createClient(EvaluatorService, c.evaluator);
  try {
    if (c.run.length === 0) return await listRuns(client);
    const out = c.out !== undefined ? resolve(c.out) : undefined;
    const reports = await Promise.all(c.run.map((id) => fetchReport(client, id, { html: out !== undefined, samples: c.samples })));
    const written: string[] = [];
    if (reports.length === 1) {
      const r = reports[0]!;
      process.stdout.write(`run ${r.run?.runId} ${RunState[r.run?.state ?? 0]}${r.run?.model?.modelName ? ` model ${r.run.model.modelName}` : ''}\n`);
      process.stdout.write(metricsTable(r.results));
      if (out) written.push(...writeReport(r, out));
    } else {
      // Labels must tell the columns apart: a name shared by several runs gets the id appended.
      const names = reports.map((r) => r.run?.name || r.run!.runId);
      const labels = reports.map((r, i) => (names.filter((n) => n === names[i]).length > 1 ? `${names[i]} (${r.run!.runId})` : names[i]!));
      process.stdout.write(comparisonTable(reports.map((r, i) => ({ label: labels[i]!, results: r.results }))));
      if (out) {
        reports.forEach((r) => written.push(...writeReport(r, out, r.run!.runId)));
        const page = join(out, 'compare.html');
        writeFileSync(page, compareHtml(reports.map((r, i) => ({ name: labels[i]!, metrics: r.metrics as JsonObject }))));
        written.push(page);
      }
    }
    for (const f of written) process.stdout.write(`wrote ${f}\n`);
    return 0;
  } finally {
    client.close();
  }
}
