// `juice eval` and `juice report` as a user runs them (the juice binary as its own process) against an
// evaluator and a generator (each its own process): a checkpoint run and a live-generator run with
// registered and file-defined tasks write report.json/report.html and print the metrics the report
// holds; `juice report` fetches one run's files, compares two runs in one table and page, and lists
// runs; bad input exits non-zero with the reason.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSyntheticDatasets } from '@juice/data';
import { createDefaultModel } from '@juice/models';
import { startRole, type RunningRole } from '../support/spawn-service.js';

const bin = fileURLToPath(new URL('../../libs/cli/bin/juice.mjs', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'juice-cli-eval-'));
const model = join(work, 'model');
const taskFile = join(work, 'tasks-inline', 'echo.json');
let generator: RunningRole;
let evaluator: RunningRole;

function juice(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: work, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

before(async () => {
  const data = await writeSyntheticDatasets(join(work, 'data'), { seed: 5, trainSize: 40, evalSize: 8 });
  createDefaultModel(model, { corpus: data.tokenizerCorpus, seed: 2 });
  // An inline task whose dataset path is relative to the task file (the CLI makes it absolute).
  mkdirSync(join(work, 'tasks-inline'));
  writeFileSync(
    taskFile,
    JSON.stringify({ name: 'file_gen', kind: 'TASK_KIND_GENERATE_MATCH', dataset: { path: '../data/gen.jsonl', format: 'DATA_FORMAT_JSONL' }, doc_to_text: 'question', doc_to_target: 'answer', generation: { temperature: 0, max_new_tokens: 8 } }),
  );
  [generator, evaluator] = await Promise.all([startRole('generator', ['--model', model]), startRole('evaluator', ['--tasks-dir', join(work, 'data', 'tasks')])]);
});
after(async () => {
  await Promise.all([evaluator.stop(), generator.stop()]);
});

const runIdOf = (stdout: string) => /^run (\S+)$/m.exec(stdout)?.[1] ?? assert.fail(`no run id in ${stdout}`);
const fmt = (v: number) => (Math.abs(v) < 1e4 ? v.toFixed(4) : v.toPrecision(6));
const escapeRe = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const runs: { ckpt?: string; live?: string } = {};

test('juice eval on a checkpoint and on a live generator: metrics table and report files', async () => {
  const out = join(work, 'out-ckpt');
  const common = ['--evaluator', evaluator.address, '--tasks', 'synthetic_ppl,synthetic_mc', '--task-file', taskFile, '--limit', '6'];
  const [ckpt, live] = await Promise.all([juice('eval', ...common, '--model', model, '--name', 'ckpt', '--out', out), juice('eval', ...common, '--generator', generator.address, '--name', 'live')]);
  assert.equal(ckpt.code, 0, ckpt.stderr);
  assert.equal(live.code, 0, live.stderr);
  runs.ckpt = runIdOf(ckpt.stdout);
  runs.live = runIdOf(live.stdout);
  assert.match(ckpt.stderr, /eval .* 100%/, 'progress was shown');

  const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as { run: { runId: string; state: string }; results: { task: string; metrics: Record<string, number>; numDocs: string }[] };
  assert.equal(report.run.runId, runs.ckpt);
  assert.equal(report.run.state, 'RUN_STATE_SUCCEEDED');
  assert.deepEqual(report.results.map((r) => r.task), ['synthetic_ppl', 'synthetic_mc', 'file_gen']);
  // Every metric of the report is a row of the printed table with the same value.
  const rows = ckpt.stdout.split('\n');
  for (const r of report.results) {
    assert.equal(r.numDocs, '6');
    for (const [m, v] of Object.entries(r.metrics)) {
      assert.ok(rows.some((l) => new RegExp(`^${r.task}\\s+${m}\\s+${escapeRe(fmt(v))}(\\s|$)`).test(l)), `table row ${r.task} ${m} ${fmt(v)} in:\n${ckpt.stdout}`);
    }
  }
  assert.ok(report.results[0]!.metrics.perplexity! > 1);
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.match(html, /<svg/);
  assert.match(html, /synthetic_mc/);
  assert.ok(!existsSync(join(work, 'report.json')), 'no files without --out');
});

test('juice report: one run to files, two runs compared, runs listed', async () => {
  assert.ok(runs.ckpt && runs.live, 'the eval test ran first');
  const one = join(work, 'out-one');
  const r1 = await juice('report', '--evaluator', evaluator.address, '--run', runs.ckpt!, '--out', one);
  assert.equal(r1.code, 0, r1.stderr);
  assert.match(r1.stdout, /synthetic_ppl\s+perplexity\s+\d/);
  assert.equal((JSON.parse(readFileSync(join(one, 'report.json'), 'utf8')) as { run: { runId: string } }).run.runId, runs.ckpt);
  assert.match(readFileSync(join(one, 'report.html'), 'utf8'), /<svg/);

  const cmp = join(work, 'out-cmp');
  const r2 = await juice('report', '--evaluator', evaluator.address, '--run', runs.ckpt!, '--run', runs.live!, '--out', cmp);
  assert.equal(r2.code, 0, r2.stderr);
  const lines = r2.stdout.split('\n');
  assert.match(lines[0]!, /^metric\s+ckpt\s+live$/);
  // The same checkpoint, loaded by the evaluator and served by the generator: the same numbers side by side.
  for (const key of ['synthetic_ppl/perplexity', 'synthetic_mc/acc', 'file_gen/exact_match']) {
    const row = lines.find((l) => l.startsWith(`${key} `)) ?? assert.fail(`no row ${key} in:\n${r2.stdout}`);
    const [, a, b] = row.trim().split(/\s+/);
    assert.equal(a, b, row);
  }
  for (const f of [`${runs.ckpt}.json`, `${runs.live}.json`, `${runs.ckpt}.html`, 'compare.html']) assert.ok(existsSync(join(cmp, f)), f);
  assert.match(readFileSync(join(cmp, 'compare.html'), 'utf8'), /ckpt[\s\S]*live/);

  const list = await juice('report', '--evaluator', evaluator.address);
  assert.equal(list.code, 0, list.stderr);
  assert.ok(list.stdout.includes(runs.ckpt!) && list.stdout.includes(runs.live!), list.stdout);
});

test('bad input: exit codes and messages name the problem', async () => {
  const missing = join(work, 'no-model-here');
  const r = await juice('eval', '--evaluator', evaluator.address, '--model', missing, '--tasks', 'synthetic_ppl');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /NOT_FOUND/);
  assert.ok(r.stderr.includes(missing), r.stderr);
  const both = await juice('eval', '--evaluator', evaluator.address, '--tasks', 'synthetic_ppl');
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--model DIR .* --generator ADDR/);
  const unknown = await juice('eval', '--evaluator', evaluator.address, '--model', model, '--tasks', 'no_such_task');
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /NOT_FOUND.*no_such_task/);
  const noRun = await juice('report', '--evaluator', evaluator.address, '--run', 'nope');
  assert.equal(noRun.code, 1);
  assert.match(noRun.stderr, /NOT_FOUND.*nope/);
});
