// Templating, split selectors and few-shot selection.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { TaskDefinitionSchema, TaskKind } from '@juice/proto';
import { TaskView, parseChoices, parseSplit, renderText, resolveSpec, selectRows, targetIndex, taskDataFromRows } from '../src/index.js';

const doc = { question: 'Why?', choices: { text: ['red', 'green'], label: ['A', 'B'] }, answer: 1, n: 2.5 };

test('a spec naming a field yields the field value, anything else is a Jinja template', () => {
  assert.equal(resolveSpec('answer', doc, 'f'), 1); // type kept: an index
  assert.deepEqual(resolveSpec('choices', doc, 'f'), doc.choices);
  assert.equal(resolveSpec('Q: {{ question }}\nA:', doc, 'f'), 'Q: Why?\nA:');
  assert.equal(resolveSpec('{{ choices.text[0] }}/{{ choices.label[1] }}', doc, 'f'), 'red/B');
  assert.equal(resolveSpec('{{ question | upper }}', doc, 'f'), 'WHY?');
  assert.equal(renderText('n', doc, 'f'), '2.5');
  assert.equal(renderText('Answer the question.\n\n', doc, 'f'), 'Answer the question.\n\n'); // keep_trailing_newline
  assert.equal(renderText('plain words', {}, 'f'), 'plain words'); // not a field: a template without placeholders
  assert.throws(() => renderText('gone', { gone: null }, 'task.doc_to_text'), /task.doc_to_text: field "gone" is null/);
  assert.throws(() => resolveSpec('{{ unclosed', doc, 'task.doc_to_text'), /task.doc_to_text/);
});

test('choice lists: field lists, JSON-rendered templates, Python-style literals', () => {
  assert.deepEqual(parseChoices(resolveSpec('{{ choices.text }}', doc, 'c'), 'c'), ['red', 'green']);
  assert.deepEqual(parseChoices("['a', \"b'c\", 'd, e']", 'c'), ['a', "b'c", 'd, e']);
  assert.deepEqual(parseChoices([1, 2], 'c'), ['1', '2']);
  assert.throws(() => parseChoices('not a list', 'task.doc_to_choice'), /task.doc_to_choice/);
  assert.throws(() => parseChoices([], 'task.doc_to_choice'), /non-empty/);
});

test('targets: integer, integer text, or a choice string', () => {
  const ch = ['no', 'yes'];
  assert.equal(targetIndex(1, ch, 't'), 1);
  assert.equal(targetIndex('0', ch, 't'), 0);
  assert.equal(targetIndex('yes', ch, 't'), 1);
  assert.throws(() => targetIndex(2, ch, 'task.doc_to_target'), /out of range/);
  assert.throws(() => targetIndex('maybe', ch, 'task.doc_to_target'), /task.doc_to_target/);
});

test('split selectors', () => {
  assert.deepEqual(parseSplit('', 10), { start: 0, end: 10 });
  assert.deepEqual(parseSplit('[:3]', 10), { start: 0, end: 3 });
  assert.deepEqual(parseSplit('[3:]', 10), { start: 3, end: 10 });
  assert.deepEqual(parseSplit('[2:5]', 10), { start: 2, end: 5 });
  assert.deepEqual(parseSplit('[:90%]', 10), { start: 0, end: 9 });
  assert.deepEqual(parseSplit('[90%:]', 10), { start: 9, end: 10 });
  assert.deepEqual(parseSplit('[:25%]', 10), { start: 0, end: 3 }); // 2.5 rounds to the closest row
  assert.deepEqual(parseSplit('[:100]', 10), { start: 0, end: 10 });
  assert.throws(() => parseSplit('train', 10), /dataset.split/);
  assert.throws(() => parseSplit('[:150%]', 10), /exceeds 100%/);
  const rows = Array.from({ length: 10 }, (_, i) => ({ i }));
  assert.deepEqual(selectRows(rows, '[2:]', 3).map((r) => r.row), [2, 3, 4]);
});

function view(numFewshot: number, seed: bigint, fewshotSplit = '', split = '') {
  const rows = Array.from({ length: 12 }, (_, i) => ({ q: `q${i}`, a: `a${i}` }));
  const def = create(TaskDefinitionSchema, {
    name: 'fs',
    kind: TaskKind.GENERATE_MATCH,
    docToText: 'Q: {{ q }}',
    docToTarget: 'a',
    numFewshot,
    fewshotSplit,
    dataset: { split },
  });
  return new TaskView(def, taskDataFromRows(rows, { split, maxRows: 0n }, fewshotSplit), seed);
}

test('few-shot: seeded, deterministic per document, never the document itself', () => {
  const v = view(3, 1234n);
  const again = view(3, 1234n);
  const other = view(3, 99n);
  let differs = 0;
  for (const rd of v.data.docs) {
    const c = v.context(rd).context;
    assert.equal(c, again.context(rd).context);
    const parts = c.split('\n\n');
    assert.equal(parts.length, 4);
    assert.equal(parts.at(-1), `Q: q${rd.row}`);
    assert.ok(!parts.slice(0, 3).some((p) => p.startsWith(`Q: q${rd.row} `)), c);
    assert.match(parts[0]!, /^Q: q(\d+) a\1$/); // text + " " + target
    if (c !== other.context(rd).context) differs++;
  }
  assert.ok(differs > 0, 'a different seed should change some few-shot sets');
  assert.throws(() => view(12, 1n).context(view(12, 1n).data.docs[0]!), /num_fewshot: 12 examples requested/);
});

test('few-shot: fewshot_split pool, delimiters, chat turns', () => {
  const v = view(2, 7n, '[:4]', '[4:]');
  for (const rd of v.data.docs) {
    const rows = [...v.context(rd).context.matchAll(/Q: q(\d+) /g)].map((m) => Number(m[1]));
    assert.equal(rows.length, 2);
    assert.ok(rows.every((r) => r < 4));
  }
  const def = create(TaskDefinitionSchema, {
    name: 'chat',
    kind: TaskKind.GENERATE_MATCH,
    docToText: 'q',
    docToTarget: 'a',
    numFewshot: 1,
    targetDelimiter: ' => ',
    fewshotDelimiter: '\n---\n',
    preamble: 'Be brief. ',
    applyChatTemplate: true,
  });
  const data = taskDataFromRows([{ q: 'x', a: '1' }, { q: 'y', a: '2' }], { split: '', maxRows: 0n }, '');
  const c = new TaskView(def, data, 1n).context(data.docs[0]!);
  assert.equal(c.context, 'Be brief. y => 2\n---\nx');
  assert.deepEqual(c.chat, [
    { role: 'system', content: 'Be brief. ' },
    { role: 'user', content: 'y' },
    { role: 'assistant', content: '2' },
    { role: 'user', content: 'x' },
  ]);
  const noDelim = new TaskView(create(TaskDefinitionSchema, { ...def, noTargetDelimiter: true, targetDelimiter: '' }), data, 1n);
  assert.equal(noDelim.targetDelimiter, '');
});
