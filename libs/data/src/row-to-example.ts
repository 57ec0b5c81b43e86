// DataSchema rows -> canonical examples (examples.ts). The rules follow the conventions of the
// Hugging Face TRL dataset formats so public SFT and preference data load without conversion:
//   CHAT               `messages`; the LAST turn must be the assistant's: it is the response, every
//                      earlier turn is the prompt.
//   PROMPT_COMPLETION  `prompt`, `completion`: strings (plain text) or message lists (conversation);
//                      a string prompt with a message-list completion becomes one user turn.
//   PREFERENCE         `prompt`, `chosen`, `rejected`. Message lists may repeat the conversation
//                      inside chosen/rejected (the prompt is then their shared prefix, and the
//                      prompt column may be omitted); strings may repeat the prompt text at the start
//                      (Anthropic-HH style), which is stripped.
//   `system`           optional column: a system message placed before the prompt (a text prompt
//                      becomes a one-user-turn conversation, since only chat has a system role).
import type { ChatMessage, Demonstration, ExampleSource, PreferencePair, Prompt } from './examples.js';
import { columnFor, type DataSchemaName, type FieldMapping } from './dataset-source.js';
import { DataRowError } from './row-error.js';
import type { SourcedRow } from './read-rows.js';

type Canonical = keyof FieldMapping;

const SCHEMA_LABEL: Record<DataSchemaName, string> = { chat: 'CHAT', prompt_completion: 'PROMPT_COMPLETION', preference: 'PREFERENCE', text: 'TEXT' };

/** Column access for one row, with errors that name the file, row, column and the columns found. */
class RowReader {
  readonly columns: string[];
  constructor(
    readonly r: SourcedRow,
    readonly fields: FieldMapping | undefined,
    readonly schema: DataSchemaName,
  ) {
    this.columns = Object.keys(r.row);
  }

  column(canonical: Canonical): string {
    return columnFor(this.fields, canonical);
  }

  fail(canonical: Canonical | undefined, problem: string): never {
    throw new DataRowError(this.r.source, canonical && this.column(canonical), problem, this.columns);
  }

  has(canonical: Canonical): boolean {
    const v = this.r.row[this.column(canonical)];
    return v !== undefined && v !== null;
  }

  required(canonical: Canonical): unknown {
    const name = this.column(canonical);
    const v = this.r.row[name];
    if (v === undefined || v === null) {
      const mapped = name !== canonical ? ` (mapped from the ${canonical} field)` : '';
      this.fail(canonical, `${v === null ? 'is null' : 'is missing'}${mapped}; schema ${SCHEMA_LABEL[this.schema]} needs it${name === canonical ? '; if the data names it differently, set fields.' + canonical : ''}`);
    }
    return v;
  }

  /** A string or a list of {role, content} messages. */
  textOrMessages(canonical: Canonical): string | ChatMessage[] {
    const v = this.required(canonical);
    if (typeof v === 'string') return v;
    if (Array.isArray(v)) return this.messages(canonical, v);
    return this.fail(canonical, `expected a string or a list of {role, content} messages, got ${describe(v)}`);
  }

  messages(canonical: Canonical, v: unknown = this.required(canonical)): ChatMessage[] {
    if (!Array.isArray(v)) this.fail(canonical, `expected a list of {role, content} messages, got ${describe(v)}`);
    return v.map((m: unknown, i) => {
      if (m === null || typeof m !== 'object' || Array.isArray(m)) this.fail(canonical, `message ${i} is ${describe(m)}, expected an object {role, content}`);
      const { role, content } = m as { role?: unknown; content?: unknown };
      if (typeof role !== 'string' || role === '') this.fail(canonical, `message ${i} has no string "role" (it has ${Object.keys(m).length} keys)`);
      if (typeof content !== 'string') this.fail(canonical, `message ${i} has no string "content"${Array.isArray(content) ? ' (multi-part content lists are not supported; use plain text)' : ''}`);
      return { role, content };
    });
  }

  /** The system column's value, or undefined when the column is absent, null or empty. */
  system(): string | undefined {
    if (!this.has('system')) return undefined;
    const v = this.r.row[this.column('system')];
    if (typeof v !== 'string') return this.fail('system', `expected a string system prompt, got ${describe(v)}`);
    return v === '' ? undefined : v;
  }

  get source(): ExampleSource {
    const s = this.r.source;
    return { file: s.file, row: s.row, ...(s.line !== undefined ? { line: s.line } : {}), index: s.index };
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  // Values are never quoted: an error names the file, row and column, not what the cell holds.
  if (typeof v === 'string') return `a string of ${v.length} characters`;
  return `a ${typeof v}`;
}

const sameMessage = (a: ChatMessage, b: ChatMessage) => a.role === b.role && a.content === b.content;

function startsWithMessages(list: readonly ChatMessage[], prefix: readonly ChatMessage[]): boolean {
  return prefix.length <= list.length && prefix.every((m, i) => sameMessage(m, list[i]!));
}

function withSystem(rr: RowReader, prompt: Prompt): Prompt {
  const system = rr.system();
  if (system === undefined) return prompt;
  const messages = prompt.kind === 'text' ? [{ role: 'user', content: prompt.text }] : prompt.messages;
  const first = messages[0];
  if (first?.role === 'system') {
    if (first.content === system) return { kind: 'chat', messages };
    rr.fail('system', 'the prompt already starts with a different system message; keep one of the two');
  }
  return { kind: 'chat', messages: [{ role: 'system', content: system }, ...messages] };
}

/** Splits a conversation at its last turn, which must be the assistant's. */
function splitLastAssistant(rr: RowReader, canonical: Canonical, messages: ChatMessage[]): { before: ChatMessage[]; response: string } {
  const last = messages[messages.length - 1];
  if (!last) rr.fail(canonical, 'is an empty list; expected messages ending with an assistant turn');
  if (last.role !== 'assistant') rr.fail(canonical, `the last message must be the assistant's response (role "assistant"), but it has another role`);
  return { before: messages.slice(0, -1), response: last.content };
}

function chatRow(rr: RowReader): Demonstration {
  const messages = rr.messages('messages');
  const { before, response } = splitLastAssistant(rr, 'messages', messages);
  if (before.length === 0) rr.fail('messages', 'has only the assistant turn; a prompt turn (user or system) must come before it');
  return { prompt: withSystem(rr, { kind: 'chat', messages: before }), response, source: rr.source };
}

function promptCompletionRow(rr: RowReader): Demonstration {
  const prompt = rr.textOrMessages('prompt');
  const completion = rr.textOrMessages('completion');
  if (typeof prompt === 'string' && typeof completion === 'string') {
    return { prompt: withSystem(rr, { kind: 'text', text: prompt }), response: completion, source: rr.source };
  }
  const promptMessages = typeof prompt === 'string' ? [{ role: 'user', content: prompt }] : prompt;
  if (typeof completion === 'string') return { prompt: withSystem(rr, { kind: 'chat', messages: promptMessages }), response: completion, source: rr.source };
  // Turns of the completion before its final assistant turn (e.g. tool calls) extend the prompt.
  const { before, response } = splitLastAssistant(rr, 'completion', completion);
  return { prompt: withSystem(rr, { kind: 'chat', messages: [...promptMessages, ...before] }), response, source: rr.source };
}

function preferenceRow(rr: RowReader): PreferencePair {
  const chosen = rr.textOrMessages('chosen');
  const rejected = rr.textOrMessages('rejected');
  if (typeof chosen !== typeof rejected) rr.fail('rejected', `chosen is ${typeof chosen === 'string' ? 'a string' : 'a message list'} but rejected is not; use the same form for both`);

  if (typeof chosen === 'string' && typeof rejected === 'string') {
    if (!rr.has('prompt')) rr.required('prompt'); // message-list rows may omit it, string rows may not
    const prompt = rr.textOrMessages('prompt');
    let c = chosen;
    let r = rejected;
    if (typeof prompt === 'string' && prompt !== '' && c.startsWith(prompt) && r.startsWith(prompt)) {
      c = c.slice(prompt.length);
      r = r.slice(prompt.length);
    }
    const p: Prompt = typeof prompt === 'string' ? { kind: 'text', text: prompt } : { kind: 'chat', messages: prompt };
    return { prompt: withSystem(rr, p), chosen: c, rejected: r, source: rr.source };
  }

  let c = chosen as ChatMessage[];
  let r = rejected as ChatMessage[];
  let prefix: ChatMessage[] = [];
  if (rr.has('prompt')) {
    const p = rr.textOrMessages('prompt');
    prefix = typeof p === 'string' ? [{ role: 'user', content: p }] : p;
    if (startsWithMessages(c, prefix) && startsWithMessages(r, prefix) && c.length > prefix.length && r.length > prefix.length) {
      c = c.slice(prefix.length);
      r = r.slice(prefix.length);
    }
  }
  // Turns shared by chosen and rejected (other than their final turns) belong to the prompt.
  let shared = 0;
  while (shared < c.length - 1 && shared < r.length - 1 && sameMessage(c[shared]!, r[shared]!)) shared++;
  prefix = [...prefix, ...c.slice(0, shared)];
  c = c.slice(shared);
  r = r.slice(shared);
  for (const [name, list] of [['chosen', c], ['rejected', r]] as const) {
    if (list.length !== 1) rr.fail(name, `chosen and rejected must share the conversation and differ only in the final assistant turn, but ${list.length} ${name} turns remain after the shared prompt`);
    if (list[0]!.role !== 'assistant') rr.fail(name, `the final turn must be the assistant's (role "assistant"), but it has another role`);
  }
  if (prefix.length === 0) rr.fail('prompt', 'no prompt: the prompt column is absent and chosen/rejected hold only the assistant turn');
  return { prompt: withSystem(rr, { kind: 'chat', messages: prefix }), chosen: c[0]!.content, rejected: r[0]!.content, source: rr.source };
}

/**
 * A demonstration from a CHAT or PROMPT_COMPLETION row; a PREFERENCE row yields its chosen
 * response (SFT on the preferred answers).
 */
export function rowToDemonstration(r: SourcedRow, schema: Exclude<DataSchemaName, 'text'>, fields?: FieldMapping): Demonstration {
  const rr = new RowReader(r, fields, schema);
  switch (schema) {
    case 'chat':
      return chatRow(rr);
    case 'prompt_completion':
      return promptCompletionRow(rr);
    case 'preference': {
      const p = preferenceRow(rr);
      return { prompt: p.prompt, response: p.chosen, source: p.source };
    }
  }
}

export function rowToPreferencePair(r: SourcedRow, fields?: FieldMapping): PreferencePair {
  return preferenceRow(new RowReader(r, fields, 'preference'));
}

/** A TEXT row's document: the `text` column (or fields.text), a string. */
export function rowToText(r: SourcedRow, fields?: FieldMapping): string {
  const rr = new RowReader(r, fields, 'text');
  const v = rr.required('text');
  if (typeof v === 'string') return v;
  return rr.fail('text', `must be a string, got ${Array.isArray(v) ? 'a list' : typeof v}`);
}
