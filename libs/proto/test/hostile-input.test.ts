// Limits checked before expensive work, bounded echoes, and RE2 for request regexes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { Algorithm, EvaluateRequestSchema, GenerateRequestSchema, ScoreCompletionsRequestSchema, StartJobRequestSchema, TaskKind, echo, maxTextBytes, regexProblem, validateEvaluate, validateGenerate, validateId, validateScoreCompletions, validateStartJob } from '../src/index.js';

const TEN_MB = 'x'.repeat(10 * 1024 * 1024);

test('a 10 MB text prompt is refused by the validator, naming the field and the limit, in milliseconds', () => {
  const limits = { vocabSize: 100, contextLength: 512 };
  const genReq = create(GenerateRequestSchema, { prompts: [{ kind: { case: 'text', value: TEN_MB } }] });
  let t = performance.now();
  const g = validateGenerate(genReq, limits);
  const genMs = performance.now() - t;
  assert.equal(g.list[0]?.field, 'prompts[0].text');
  assert.match(g.list[0]!.problem, new RegExp(`at most ${maxTextBytes(limits)} bytes`));
  const scoreReq = create(ScoreCompletionsRequestSchema, { items: [{ prompt: { kind: { case: 'text', value: TEN_MB } }, completion: { kind: { case: 'text', value: 'a' } } }] });
  t = performance.now();
  const s = validateScoreCompletions(scoreReq, limits);
  const scoreMs = performance.now() - t;
  assert.equal(s.list[0]?.field, 'items[0].prompt.text');
  assert.ok(genMs < 200 && scoreMs < 200, `validation took ${genMs} / ${scoreMs} ms`);
  // The limit scales with the context (32 bytes per token), never below 64 KiB.
  assert.equal(maxTextBytes({ contextLength: 512 }), 64 * 1024);
  assert.equal(maxTextBytes({ contextLength: 131072 }), 4 * 1024 * 1024);
});

const spec = (datasets: number) => ({ algorithm: Algorithm.SFT, datasets: Array.from({ length: datasets }, () => ({ path: 'd.jsonl', schema: 2 })) });

test('100,000 datasets are refused at once by count; long ids, names, labels and paths are refused by length', () => {
  const req = create(StartJobRequestSchema, { spec: spec(100_000) });
  const t = performance.now();
  const v = validateStartJob(req);
  const ms = performance.now() - t;
  assert.ok(ms < 1000, `validation took ${ms} ms`);
  assert.equal(v.list[0]?.field, 'spec.datasets');
  assert.match(v.list[0]!.problem, /0\.\.64 entries, got 100000/);
  const long = 'j'.repeat(1 << 20);
  assert.match(validateId('job_id', long).list[0]!.problem, /at most 128 bytes/);
  assert.equal(validateId('job_id', '').list[0]!.problem, 'is required');
  const v2 = validateStartJob(create(StartJobRequestSchema, { requestId: long, spec: { ...spec(1), name: long, labels: { [long]: 'v' }, datasets: [{ path: '/'.repeat(5000), schema: 2 }] } }));
  const fields = v2.list.map((x) => x.field);
  for (const f of ['spec.name', 'spec.datasets[0].path', 'request_id']) assert.ok(fields.includes(f), `${f} in ${fields.join(', ')}`);
  // No violation quotes a megabyte back: label keys in field paths are cut.
  for (const x of v2.list) assert.ok(x.field.length + x.problem.length < 400, `${x.field}: ${x.problem.length}`);
});

test('echo quotes a client string, cut with its length', () => {
  assert.equal(echo('abc'), '"abc"');
  const e = echo('z'.repeat(1_000_000));
  assert.ok(e.length < 120 && e.endsWith('(1000000 characters)'), e);
});

test('request regexes: RE2 syntax is checked at validation; backreferences and lookaround are refused naming the field', () => {
  assert.equal(regexProblem('#### (\\-?[0-9\\.\\,]+)'), undefined);
  assert.equal(regexProblem('(?i)answer: (\\w+)'), undefined);
  assert.match(regexProblem('(a)\\1')!, /linear-time \(RE2\)/);
  assert.match(regexProblem('(?=x)a')!, /RE2/);
  const req = (re: string) => create(EvaluateRequestSchema, { target: { kind: { case: 'generatorAddress', value: 'localhost:1' } }, tasks: [{ kind: { case: 'definition', value: { name: 't', kind: TaskKind.GENERATE_MATCH, dataset: { path: 'x.jsonl' }, targetRegex: re } } }] });
  assert.deepEqual(validateEvaluate(req('^(a+)+$')).list, []);
  assert.equal(validateEvaluate(req('(a)\\1')).list[0]?.field, 'tasks[0].definition.target_regex');
});
