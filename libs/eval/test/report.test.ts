// JSON and HTML reports and the SVG charts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { create, toBinary, fromBinary } from '@bufbuild/protobuf';
import { GetReportResponseSchema, RunState, TaskKind, type TaskResult } from '@juice/proto';
import { compareHtml, flattenMetrics, reportHtml, reportJson, runTask, svgBarChart, svgLineChart, taskDataFromRows } from '../src/index.js';
import { BigramModel } from './bigram-model.js';

const data = (rows: Record<string, unknown>[]) => taskDataFromRows(rows, { split: '', maxRows: 0n }, '');

async function results(): Promise<TaskResult[]> {
  const model = new BigramModel({ '<s>': { the: 0.5 }, the: { cat: 0.5 }, big: { ox: 0.3, elephant: 0.1 }, purrs: { cat: 0.6, dog: 0.1 } });
  const mc = await runTask(
    { name: 'mc', kind: TaskKind.MULTIPLE_CHOICE, docToText: 'q', choices: ['ox', 'elephant', 'cat', 'dog'], docToTarget: 'a' },
    model,
    { data: data([{ q: 'which is big', a: 1 }, { q: 'which purrs', a: 2 }, { q: 'x <b>&', a: 0 }]), logSamples: 3 },
  );
  const ppl = await runTask({ name: 'ppl', kind: TaskKind.PERPLEXITY }, model, { data: data([{ text: 'the cat' }, { text: 'the dog' }]) });
  return [mc, ppl];
}

const run = { runId: 'run-1', name: 'nightly <eval>', state: RunState.SUCCEEDED, model: { modelName: 'tiny', weightVersion: { number: 3n } }, request: { seed: 0n }, labels: { job_id: 'j1' } };

/** Tag balance of an HTML/SVG string (void elements and self-closed tags aside). */
function assertBalanced(html: string): void {
  const voids = new Set(['meta', 'br', 'hr', 'img', 'input', 'link']);
  const stack: string[] = [];
  for (const m of html.matchAll(/<(\/?)([a-zA-Z][a-zA-Z0-9]*)[^>]*?(\/?)>/g)) {
    const [, close, name, self] = m;
    const tag = name!.toLowerCase();
    if (self || voids.has(tag)) continue;
    if (close) assert.equal(stack.pop(), tag, `unbalanced </${tag}>`);
    else stack.push(tag);
  }
  assert.deepEqual(stack, []);
}

test('reportJson: {"<task>": {metric, metric_stderr}, "_meta"} that fits google.protobuf.Struct', async () => {
  const rs = await results();
  const j = reportJson(run, rs);
  const mc = j['mc'] as Record<string, number>;
  assert.equal(mc['acc'], rs[0]!.metrics['acc']);
  assert.equal(mc['acc_stderr'], rs[0]!.stderr['acc']);
  assert.ok('perplexity_stderr' in (j['ppl'] as object));
  const meta = j['_meta'] as Record<string, unknown>;
  assert.equal(meta['run_id'], 'run-1');
  assert.equal(meta['model_name'], 'tiny');
  assert.equal(meta['weight_version'], 3);
  assert.equal(meta['seed'], 1234);
  assert.equal((meta['tasks'] as Record<string, Record<string, unknown>>)['mc']!['num_docs'], 3);
  const msg = create(GetReportResponseSchema, { metrics: j });
  assert.deepEqual(fromBinary(GetReportResponseSchema, toBinary(GetReportResponseSchema, msg)).metrics, j);
  // Non-finite values become null.
  const diverged = { ...rs[1]!, metrics: { perplexity: Infinity }, stderr: {} } as TaskResult;
  assert.equal((reportJson(run, [diverged])['ppl'] as Record<string, unknown>)['perplexity'], null);
});

test('reportHtml: self-contained, metrics present, one <svg> per chart, escaped', async () => {
  const rs = await results();
  const html = reportHtml(run, rs, { samples: 2 });
  assert.ok(html.startsWith('<!DOCTYPE html>'));
  assertBalanced(html);
  assert.ok(!/https?:\/\/|\bsrc=|url\(|<script|<link/i.test(html), 'no external assets');
  assert.ok(html.includes('nightly &lt;eval&gt;'));
  assert.ok(!html.includes('x <b>&'), 'sample prompts are escaped');
  for (const r of rs) for (const m of Object.keys(r.metrics)) assert.ok(html.includes(`<td>${m}</td>`), m);
  // Charts: acc/acc_norm together, then nll, perplexity, bits_per_byte, word_perplexity.
  assert.equal(html.match(/<svg/g)!.length, 5);
  assert.equal(html.match(/<figure>/g)!.length, 5);
  assert.equal(html.match(/<\/svg>/g)!.length, 5);
});

test('svgLineChart: one path per series, gaps at non-finite points, standalone namespace', () => {
  const svg = svgLineChart(
    [
      { name: 'loss', points: [[0, 2], [1, 1.5], [2, NaN], [3, 1.1]] },
      { name: 'reward margin', points: [{ x: 0, y: 0 }, { x: 3, y: 0.8 }] },
    ],
    { title: 'Training', xLabel: 'step', yLabel: 'value', standalone: true },
  );
  assertBalanced(svg);
  assert.equal(svg.match(/<path /g)!.length, 2);
  assert.match(svg, /<path d="M[^"]*M/); // the NaN split the loss line
  assert.ok(svg.includes('xmlns="http://www.w3.org/2000/svg"'));
  assert.ok(svg.includes('reward margin'));
  assert.ok(!svgLineChart([{ name: 'x', points: [] }]).includes('xmlns'));
  assert.ok(svgLineChart([]).includes('no data'));
});

test('svgBarChart: bars and error bars per series', () => {
  const svg = svgBarChart(
    [
      { label: 'arc/acc', bars: [{ series: 'sft', value: 0.4, error: 0.05 }, { series: 'irft', value: 0.5, error: 0.05 }] },
      { label: 'gsm/exact_match', bars: [{ series: 'sft', value: 0.1 }, { series: 'irft', value: 0.2 }] },
    ],
    { title: 'Evals', yMin: 0, yMax: 1 },
  );
  assertBalanced(svg);
  assert.equal(svg.match(/<rect [^>]*><title>/g)!.length, 4);
  assert.equal(svg.match(/stroke="#222"/g)!.length, 2); // two error bars
});

test('compareHtml: models side by side, best value bold, curves appended', async () => {
  const rs = await results();
  const nested = reportJson(run, rs);
  const flat = Object.fromEntries(rs.flatMap((r) => Object.entries(r.metrics).map(([m, v]) => [`${r.task}/${m}`, v + 0.1])));
  assert.equal(flattenMetrics(nested).get('mc/acc')!.stderr, rs[0]!.stderr['acc']);
  const html = compareHtml(
    [
      { name: 'sft', metrics: nested },
      { name: 'irft', metrics: flat },
    ],
    [{ title: 'loss', xLabel: 'step', yLabel: 'loss', series: [{ name: 'irft', points: [[0, 1], [1, 0.5]] }] }],
  );
  assertBalanced(html);
  assert.ok(!/https?:\/\//.test(html));
  assert.ok(html.includes('<th>sft</th><th>irft</th>'));
  // Higher acc is better: irft bold; lower perplexity is better: sft bold.
  assert.match(html, /<td>mc\/acc<\/td><td class="num">[^<]*(<small>[^<]*<\/small>)?<\/td><td class="num best">/);
  assert.match(html, /<td>ppl\/perplexity<\/td><td class="num best">/);
  // Bounded chart + nll, perplexity, bits_per_byte, word_perplexity charts + one curve.
  assert.equal(html.match(/<svg/g)!.length, 6);
});
