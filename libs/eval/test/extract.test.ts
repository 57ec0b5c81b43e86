// Answer extraction and exact-match normalisation edge cases.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileRegex, exactMatch, extractAnswer, normalise } from '../src/index.js';

const GSM = compileRegex('#### (\\-?[0-9\\.\\,]+)', 'answer_regex');
const plain = { ignoreCase: false, ignorePunctuation: false, ignoreStrings: [] };

test('the LAST match wins; first capture group, else the whole match', () => {
  assert.equal(extractAnswer('#### 3 then #### 5', GSM), '5');
  assert.equal(extractAnswer('no answer here', GSM), undefined);
  assert.equal(extractAnswer('x=1, x=22', compileRegex('x=\\d+', 'r')), 'x=22'); // no groups
  // lm-eval's regex filter takes the first non-empty group.
  assert.equal(extractAnswer('answer: B', compileRegex('(?:\\(([A-D])\\))|(?:answer: ([A-D]))', 'r')), 'B');
  assert.equal(extractAnswer('  spaced out \n', undefined), 'spaced out');
  assert.equal(extractAnswer('x', compileRegex('(y)?x', 'r')), ''); // group did not participate
});

test('inline RE2/Python flags and non-unicode escapes compile', () => {
  const re = compileRegex('(?i)the answer is (\\w+)', 'r');
  assert.equal(extractAnswer('THE ANSWER IS Foo', re), 'Foo');
  const dotall = compileRegex('(?s)start(.*)end', 'r');
  assert.equal(extractAnswer('start\nmid\nend', dotall), '\nmid\n');
  assert.throws(() => compileRegex('(unclosed', 'task.answer_regex'), /task.answer_regex/);
});

test('normalisation: ignore_strings, then case, then punctuation; trimmed', () => {
  assert.equal(normalise(' $1,000. ', { ignoreCase: false, ignorePunctuation: false, ignoreStrings: [',', '$'] }), '1000.');
  assert.equal(normalise('Hello, World!', { ignoreCase: true, ignorePunctuation: true, ignoreStrings: [] }), 'hello world');
  assert.ok(exactMatch('1,000', '1000', { ...plain, ignoreStrings: [','] }));
  assert.ok(!exactMatch('1,000', '1000', plain));
  assert.ok(!exactMatch(undefined, '', plain)); // no match is wrong even against an empty target
  assert.ok(exactMatch(' 42 ', '42', plain));
});

test('request regexes run on RE2: a catastrophic pattern costs microseconds; backreferences are refused naming the field', () => {
  const re = compileRegex('^(a+)+$', 'task.target_regex');
  re.matcher('a'.repeat(30) + 'b').find(); // warm up the engine once
  for (const text of ['a'.repeat(30), 'a'.repeat(30) + 'b', 'a'.repeat(100_000) + 'b']) {
    const t = performance.now();
    extractAnswer(text, re);
    const ms = performance.now() - t;
    // A backtracking engine needs about a minute for 30 a's + b; RE2 is linear in the text.
    assert.ok(ms < (text.length > 1000 ? 2000 : 20), `${text.length} chars took ${ms} ms`);
  }
  assert.equal(extractAnswer('a'.repeat(30), re), 'a'.repeat(30));
  assert.throws(() => compileRegex('(a)\\1', 'task.answer_regex'), (e: unknown) => (e as { grpcCode?: string }).grpcCode === 'INVALID_ARGUMENT' && /task\.answer_regex: .*RE2/.test((e as Error).message));
  assert.throws(() => compileRegex('(?<=a)b', 'task.answer_regex'), /task\.answer_regex/);
});
