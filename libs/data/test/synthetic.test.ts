import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fromJson } from '@bufbuild/protobuf';
import { TaskDefinitionSchema, TaskKind, DataSchema, validateTaskDefinition, Violations } from '@juice/proto';
import { ANSWER_REGEX, loadDemonstrations, loadRows, makeSyntheticTasks, SKILLS, writeSyntheticDatasets } from '../src/index.js';
import { tempDir } from './helpers.js';

const extract = (text: string) => new RegExp(ANSWER_REGEX).exec(text)?.[1];

test('synthetic tasks are deterministic per seed and differ across seeds', () => {
  const a = makeSyntheticTasks({ seed: 7, trainSize: 200, evalSize: 40 });
  assert.deepEqual(makeSyntheticTasks({ seed: 7, trainSize: 200, evalSize: 40 }), a);
  assert.notDeepEqual(makeSyntheticTasks({ seed: 8, trainSize: 200, evalSize: 40 }).train, a.train);
  // Pinned first problems: a generator change must be deliberate (bump SYNTHETIC_TASKS_VERSION).
  assert.deepEqual(a.train.slice(0, 4).map((p) => p.skill), ['add', 'reverse', 'sort', 'count']);
  assert.deepEqual(a.train[0], { skill: 'add', question: 'What is 23+59?', response: '23+59=82', answer: '82' });
  assert.deepEqual(a.train[1], { skill: 'reverse', question: 'Reverse the letters: e i j', response: 'e i j reversed=j i e', answer: 'j i e' });
  assert.equal(a.train[4]!.skill, 'sub');
});

test('each skill has exact, extractable answers', () => {
  const { train } = makeSyntheticTasks({ seed: 1, trainSize: 400, evalSize: 0 });
  for (const p of train) {
    assert.equal(extract(p.response), p.answer, p.response);
    if (p.skill === 'add') {
      const [, x, y] = /^What is (\d+)\+(\d+)\?$/.exec(p.question)!;
      assert.equal(Number(p.answer), Number(x) + Number(y));
    } else if (p.skill === 'sub') {
      const [, x, y] = /^What is (\d+)-(\d+)\?$/.exec(p.question)!;
      assert.ok(Number(x) >= Number(y), 'differences are never negative');
      assert.equal(Number(p.answer), Number(x) - Number(y));
    } else if (p.skill === 'reverse') {
      const w = p.question.replace('Reverse the letters: ', '').split(' ');
      assert.equal(p.answer, [...w].reverse().join(' '));
    } else if (p.skill === 'sort') {
      const d = p.question.replace('Sort the digits: ', '').split(' ').map(Number);
      assert.equal(p.answer, [...d].sort((x, y) => x - y).join(' '));
    } else {
      assert.equal(p.skill, 'count');
      const [, letter, word] = /^How many (\w) in: (.*)$/.exec(p.question)!;
      assert.equal(Number(p.answer), word!.split(' ').filter((c) => c === letter).length);
    }
  }
  assert.deepEqual(new Set(train.map((p) => p.skill)), new Set(SKILLS));
  assert.ok(train.every((p) => p.question.length + p.response.length < 90), 'fits a 128-token context with room to spare');
});

test('held-out questions are distinct and never appear in training', () => {
  const { train, heldout } = makeSyntheticTasks({ seed: 3, trainSize: 5000, evalSize: 400 });
  const held = new Set(heldout.map((p) => p.question));
  assert.equal(held.size, heldout.length);
  assert.equal(train.filter((p) => held.has(p.question)).length, 0);
});

test('multiple choice: the label points at the correct response among 3 distinct near misses', () => {
  const { heldout, multipleChoice, generate } = makeSyntheticTasks({ seed: 5, trainSize: 0, evalSize: 200 });
  const labels = new Set<number>();
  multipleChoice.forEach((m, i) => {
    const p = heldout[i]!;
    assert.equal(m.question, p.question);
    assert.equal(m.choices.length, 4);
    assert.equal(new Set(m.choices).size, 4);
    assert.equal(m.choices[m.label], p.response);
    for (const c of m.choices) if (c !== p.response) assert.notEqual(extract(c), p.answer);
    labels.add(m.label);
  });
  assert.deepEqual([...labels].sort(), [0, 1, 2, 3], 'the correct position varies');
  assert.deepEqual(generate.map((g) => g.answer), heldout.map((p) => p.answer));
});

test('writeSyntheticDatasets writes loadable data and TaskDefinitions in protobuf JSON', async () => {
  const dir = tempDir('juice-synth-');
  const w = await writeSyntheticDatasets(dir, { seed: 11, trainSize: 80, evalSize: 20 });
  const demos = await loadDemonstrations({ path: w.files.train, schema: 'chat' });
  assert.equal(demos.length, 80);
  assert.equal(demos[0]!.prompt.kind, 'chat');
  assert.equal((await loadDemonstrations({ path: w.files.heldout, schema: 'chat' })).length, 20);
  assert.deepEqual(Object.keys((await loadRows({ path: w.files.multipleChoice }))[0]!.row).sort(), ['choices', 'label', 'question', 'skill']);
  assert.deepEqual(Object.keys((await loadRows({ path: w.files.generate }))[0]!.row).sort(), ['answer', 'question', 'skill']);
  assert.ok(w.tokenizerCorpus.length >= 160);

  const kinds = new Map<string, TaskKind>();
  for (const f of w.files.tasks) {
    const json = JSON.parse(readFileSync(f, 'utf8')) as Record<string, unknown>;
    // The .proto field names, as the brief for task files asks (protobuf JSON accepts them).
    for (const k of Object.keys(json)) assert.match(k, /^[a-z0-9_]+$/, `${f}: key ${k} is not a .proto field name`);
    // fromJson rejects unknown field names, so this checks every key against TaskDefinition.
    const t = fromJson(TaskDefinitionSchema, json as never);
    const v = new Violations();
    validateTaskDefinition(v, 'task', t);
    assert.deepEqual(v.list, [], f);
    kinds.set(t.name, t.kind);
    if (t.kind === TaskKind.PERPLEXITY) assert.equal(t.dataset?.schema, DataSchema.CHAT);
    if (t.kind === TaskKind.GENERATE_MATCH) {
      assert.equal(t.answerRegex, ANSWER_REGEX);
      assert.equal(t.generation?.maxNewTokens, 48);
      assert.equal(t.docToText, 'question');
    }
    if (t.kind === TaskKind.MULTIPLE_CHOICE) assert.deepEqual([t.docToChoice, t.docToTarget, t.noTargetDelimiter], ['choices', 'label', true]);
    assert.ok(t.dataset?.path.startsWith(dir));
  }
  assert.deepEqual(Object.fromEntries(kinds), { synthetic_gen: TaskKind.GENERATE_MATCH, synthetic_mc: TaskKind.MULTIPLE_CHOICE, synthetic_ppl: TaskKind.PERPLEXITY });
});
