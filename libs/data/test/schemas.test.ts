import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { DataFileError, DataRowError, loadDemonstrations, loadPreferencePairs, rowToDemonstration, rowToPreferencePair, type SourcedRow } from '../src/index.js';
import { tempDir, writeJsonl } from './helpers.js';

const CHAT_PARQUET = fileURLToPath(new URL('./fixtures/chat.parquet', import.meta.url));
const at = (row: Record<string, unknown>, line = 5): SourcedRow => ({ row, source: { file: 'data.jsonl', row: line - 1, line, index: line - 1 } });
const u = (content: string) => ({ role: 'user', content });
const a = (content: string) => ({ role: 'assistant', content });
const s = (content: string) => ({ role: 'system', content });

test('CHAT: the last assistant turn is the response, every earlier turn the prompt', () => {
  const d = rowToDemonstration(at({ messages: [s('be brief'), u('hi'), a('hello'), u('2+2?'), a('4')] }), 'chat');
  assert.deepEqual(d.prompt, { kind: 'chat', messages: [s('be brief'), u('hi'), a('hello'), u('2+2?')] });
  assert.equal(d.response, '4');
  assert.deepEqual(d.source, { file: 'data.jsonl', row: 4, line: 5, index: 4 });
});

test('CHAT: a conversation not ending with the assistant is an error naming file, line, column and columns found', () => {
  assert.throws(
    () => rowToDemonstration(at({ messages: [u('hi'), a('hello'), u('bye')], id: 3 }, 17), 'chat'),
    (e: unknown) => e instanceof DataRowError && e.grpcCode === 'INVALID_ARGUMENT' && e.message.startsWith('data.jsonl line 17, column "messages": the last message must be the assistant') && e.message.includes('columns found: "messages", "id"'),
  );
  assert.throws(() => rowToDemonstration(at({ messages: [a('alone')] }), 'chat'), /has only the assistant turn/);
  assert.throws(() => rowToDemonstration(at({ messages: [u('hi'), { role: 'assistant', text: 'x' }] }), 'chat'), /message 1 has no string "content"/);
  assert.throws(() => rowToDemonstration(at({ messages: 'hi' }), 'chat'), /expected a list of \{role, content\} messages, got a string of 2 characters/);
  // Cell values are never quoted back (errors may reach callers who must not read the file).
  assert.throws(() => rowToDemonstration(at({ messages: 'SECRET=hunter2' }), 'chat'), (e: unknown) => e instanceof DataRowError && !e.message.includes('hunter2'));
  assert.throws(() => rowToDemonstration(at({ messages: [u('hi'), { role: 'tool-hunter2', content: 'x' }] }), 'chat'), (e: unknown) => e instanceof DataRowError && !e.message.includes('hunter2'));
});

test('a missing column names the column, the mapping hint and the columns found', () => {
  assert.throws(
    () => rowToDemonstration(at({ conversation: [u('x'), a('y')] }, 3), 'chat'),
    (e: unknown) => e instanceof DataRowError && e.column === 'messages' && /data\.jsonl line 3, column "messages": is missing; schema CHAT needs it; if the data names it differently, set fields\.messages \(columns found: "conversation"\)/.test(e.message),
  );
});

test('field mapping renames columns, including system', () => {
  const d = rowToDemonstration(at({ conversation: [u('x'), a('y')], sys: 'rules' }), 'chat', { messages: 'conversation', system: 'sys' });
  assert.deepEqual(d.prompt, { kind: 'chat', messages: [s('rules'), u('x')] });
  assert.throws(() => rowToDemonstration(at({ messages: [u('x'), a('y')] }), 'chat', { messages: 'conversation' }), /column "conversation": is missing \(mapped from the messages field\)/);
  const p = rowToDemonstration(at({ q: 'Q', ans: 'A' }), 'prompt_completion', { prompt: 'q', completion: 'ans', messages: '' });
  assert.deepEqual([p.prompt, p.response], [{ kind: 'text', text: 'Q' }, 'A']);
});

test('PROMPT_COMPLETION: strings stay text; message lists become chat; a string prompt with a list completion is a user turn', () => {
  const t = rowToDemonstration(at({ prompt: 'The sky is', completion: ' blue.' }), 'prompt_completion');
  assert.deepEqual([t.prompt, t.response], [{ kind: 'text', text: 'The sky is' }, ' blue.']);
  const c = rowToDemonstration(at({ prompt: [u('q')], completion: [a('r')] }), 'prompt_completion');
  assert.deepEqual([c.prompt, c.response], [{ kind: 'chat', messages: [u('q')] }, 'r']);
  const m = rowToDemonstration(at({ prompt: 'q', completion: [a('r')] }), 'prompt_completion');
  assert.deepEqual(m.prompt, { kind: 'chat', messages: [u('q')] });
  const l = rowToDemonstration(at({ prompt: [u('q')], completion: 'r' }), 'prompt_completion');
  assert.deepEqual([l.prompt, l.response], [{ kind: 'chat', messages: [u('q')] }, 'r']);
  const multi = rowToDemonstration(at({ prompt: [u('q')], completion: [a('thinking'), u('go on'), a('done')] }), 'prompt_completion');
  assert.deepEqual([multi.prompt, multi.response], [{ kind: 'chat', messages: [u('q'), a('thinking'), u('go on')] }, 'done']);
  assert.throws(() => rowToDemonstration(at({ prompt: 'q', completion: 7 }), 'prompt_completion'), /column "completion": expected a string or a list of \{role, content\} messages, got a number/);
  assert.throws(() => rowToDemonstration(at({ prompt: 'q', completion: null }), 'prompt_completion'), /column "completion": is null/);
});

test('system column: prepended as a system message; a text prompt becomes a user turn; empty is ignored', () => {
  const t = rowToDemonstration(at({ prompt: 'q', completion: 'r', system: 'S' }), 'prompt_completion');
  assert.deepEqual(t.prompt, { kind: 'chat', messages: [s('S'), u('q')] });
  const e = rowToDemonstration(at({ prompt: 'q', completion: 'r', system: '' }), 'prompt_completion');
  assert.deepEqual(e.prompt, { kind: 'text', text: 'q' });
  const same = rowToDemonstration(at({ messages: [s('S'), u('q'), a('r')], system: 'S' }), 'chat');
  assert.deepEqual(same.prompt, { kind: 'chat', messages: [s('S'), u('q')] });
  assert.throws(() => rowToDemonstration(at({ messages: [s('T'), u('q'), a('r')], system: 'S' }), 'chat'), /column "system": the prompt already starts with a different system message/);
  assert.throws(() => rowToDemonstration(at({ messages: [u('q'), a('r')], system: 3 }), 'chat'), /column "system": expected a string system prompt/);
});

test('PREFERENCE: explicit prompt with string or message responses', () => {
  const t = rowToPreferencePair(at({ prompt: 'Q', chosen: 'good', rejected: 'bad' }));
  assert.deepEqual([t.prompt, t.chosen, t.rejected], [{ kind: 'text', text: 'Q' }, 'good', 'bad']);
  const c = rowToPreferencePair(at({ prompt: [u('Q')], chosen: [a('good')], rejected: [a('bad')] }));
  assert.deepEqual([c.prompt, c.chosen, c.rejected], [{ kind: 'chat', messages: [u('Q')] }, 'good', 'bad']);
});

test('PREFERENCE: TRL implicit prompt — the shared message prefix of chosen and rejected is the prompt', () => {
  const conv = [s('sys'), u('hi'), a('hello'), u('Q')];
  const p = rowToPreferencePair(at({ chosen: [...conv, a('good')], rejected: [...conv, a('bad')] }));
  assert.deepEqual([p.prompt, p.chosen, p.rejected], [{ kind: 'chat', messages: conv }, 'good', 'bad']);
  // An explicit prompt repeated inside chosen/rejected is stripped once, not duplicated.
  const q = rowToPreferencePair(at({ prompt: [u('Q')], chosen: [u('Q'), a('good')], rejected: [u('Q'), a('bad')] }));
  assert.deepEqual(q.prompt, { kind: 'chat', messages: [u('Q')] });
  // A string prompt repeated at the start of string responses (Anthropic-HH style) is stripped.
  const h = rowToPreferencePair(at({ prompt: '\n\nHuman: Q\n\nAssistant:', chosen: '\n\nHuman: Q\n\nAssistant: good', rejected: '\n\nHuman: Q\n\nAssistant: bad' }));
  assert.deepEqual([h.chosen, h.rejected], [' good', ' bad']);
});

test('PREFERENCE: row errors', () => {
  assert.throws(() => rowToPreferencePair(at({ chosen: 'good', rejected: 'bad' })), (e: unknown) => e instanceof DataRowError && e.column === 'prompt' && e.message.includes('columns found: "chosen", "rejected"'));
  assert.throws(() => rowToPreferencePair(at({ prompt: 'Q', chosen: [a('x')], rejected: 'bad' })), /column "rejected": chosen is a message list but rejected is not/);
  assert.throws(() => rowToPreferencePair(at({ chosen: [u('A'), a('x')], rejected: [u('B'), a('y')] })), /differ only in the final assistant turn, but 2 chosen turns remain/);
  assert.throws(() => rowToPreferencePair(at({ chosen: [u('Q'), u('x')], rejected: [u('Q'), a('y')] })), /column "chosen": the final turn must be the assistant's/);
  assert.throws(() => rowToPreferencePair(at({ chosen: [a('x')], rejected: [a('y')] })), /column "prompt": no prompt/);
  assert.throws(() => rowToPreferencePair(at({ prompt: 'Q', chosen: 'a', rejected: 'b' }), { chosen: 'better' }), /column "better": is missing \(mapped from the chosen field\)/);
});

test('loaders: schema is required, preference data also yields demonstrations, Parquet CHAT with a system column', async () => {
  const dir = tempDir();
  const p = writeJsonl(dir, 'pairs.jsonl', [{ prompt: 'Q', chosen: 'good', rejected: 'bad' }]);
  await assert.rejects(loadDemonstrations({ path: p }), (e: unknown) => e instanceof DataFileError && /schema is not set/.test(e.message));
  await assert.rejects(loadPreferencePairs({ path: p, schema: 'chat' }), /schema CHAT cannot be used here; valid: PREFERENCE/);
  assert.equal((await loadPreferencePairs({ path: p, schema: 3 })).length, 1);
  assert.equal((await loadDemonstrations({ path: p, schema: 'preference' }))[0]!.response, 'good');

  const demos = await loadDemonstrations({ path: CHAT_PARQUET, schema: 1, split: '[:2]' }); // juice.v1.DataSchema.CHAT
  assert.deepEqual(demos.map((d) => [d.prompt, d.response]), [
    [{ kind: 'chat', messages: [s('You add numbers.'), u('What is 0+0?')] }, '0+0=0'],
    [{ kind: 'chat', messages: [u('What is 1+1?')] }, '1+1=2'],
  ]);
  const bad = await loadDemonstrations({ path: CHAT_PARQUET, schema: 'prompt_completion', split: '[3:]' }).catch((e: unknown) => e);
  assert.ok(bad instanceof DataRowError);
  assert.match(bad.message, /chat\.parquet row index 3, column "prompt": is missing; schema PROMPT_COMPLETION needs it.*\(columns found: "id", "messages", "system"\)/);
});
