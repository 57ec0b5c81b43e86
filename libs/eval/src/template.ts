// lm-eval-style document templating: a spec that is exactly a field name of the document yields
// that field's value (keeping its type: an index, a list of choices); anything else is a Jinja
// template (@huggingface/jinja), which renders lists as JSON.
import { Template } from '@huggingface/jinja';
import { echo } from '@juice/proto';
import type { Doc } from './task-data.js';

// Document values are never quoted in errors (the task file may be one the caller cannot read); the
// task's own specs (request data) are quoted cut short.

const cache = new Map<string, Template>();

function compiled(spec: string, field: string): Template {
  let t = cache.get(spec);
  if (!t) {
    try {
      t = new Template(spec);
    } catch (e) {
      throw new Error(`${field}: invalid template ${echo(spec)}: ${echo((e as Error).message, 200)}`);
    }
    cache.set(spec, t);
  }
  return t;
}

/** The field's raw value when `spec` names a field of `doc`, else the rendered template (a string). */
export function resolveSpec(spec: string, doc: Doc, field: string): unknown {
  if (Object.prototype.hasOwnProperty.call(doc, spec)) return doc[spec];
  try {
    return keepTrailingNewline(spec, compiled(spec, field).render(doc));
  } catch (e) {
    // The renderer's message may quote document values: only its kind is kept.
    throw new Error(`${field}: rendering ${echo(spec)} failed (${(e as Error).name})`);
  }
}

/**
 * Jinja (and @huggingface/jinja) drops exactly one trailing "\n" of a template; lm-eval renders with keep_trailing_newline, and
 * a preamble like "Answer the question.\n\n" depends on it. Restore what the template ended with.
 */
function keepTrailingNewline(spec: string, out: string): string {
  return spec.endsWith('\n') ? out + '\n' : out;
}

/** resolveSpec as text: strings as is, numbers/booleans printed, anything else as JSON. */
export function renderText(spec: string, doc: Doc, field: string): string {
  const v = resolveSpec(spec, doc, field);
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v === null || v === undefined) throw new Error(`${field}: field ${echo(spec)} is ${v === null ? 'null' : 'missing'} in the document`);
  return JSON.stringify(v);
}

/** What a document value is, without quoting it. */
function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (typeof v === 'string') return `a string of ${v.length} characters`;
  return `a ${typeof v}`;
}

/**
 * A list of choices from a field value or a rendered template. Accepts a JSON list and, for
 * lm-eval YAML compatibility, a Python-style list literal with single-quoted strings.
 */
export function parseChoices(value: unknown, field: string): string[] {
  let v = value;
  if (typeof v === 'string') v = parseListLiteral(v, field);
  if (!Array.isArray(v) || v.length === 0) throw new Error(`${field}: expected a non-empty list of choices, got ${describeValue(value)}`);
  return v.map((c) => (typeof c === 'string' ? c : String(c)));
}

function parseListLiteral(text: string, field: string): unknown {
  const s = text.trim();
  try {
    return JSON.parse(s);
  } catch {
    // fall through to the Python-literal reading
  }
  if (!s.startsWith('[') || !s.endsWith(']')) throw new Error(`${field}: expected a list, got ${describeValue(s)}`);
  const out: string[] = [];
  const re = /\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|(-?\d+(?:\.\d+)?))\s*(,|$)/y;
  const body = s.slice(1, -1);
  re.lastIndex = 0;
  while (re.lastIndex < body.length) {
    const m = re.exec(body);
    if (!m) throw new Error(`${field}: cannot read the list (${describeValue(s)}) at character ${re.lastIndex + 2}`);
    const raw = m[1] ?? m[2];
    out.push(raw !== undefined ? raw.replace(/\\(.)/g, (_all, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : c)) : m[3]!);
    if (m[4] === '') break;
  }
  return out;
}

/**
 * The index of the correct choice: an integer (or integer text), or a string equal to one of the
 * choices (lm-eval accepts both).
 */
export function targetIndex(value: unknown, choices: readonly string[], field: string): number {
  let idx: number | undefined;
  if (typeof value === 'number' && Number.isInteger(value)) idx = value;
  else if (typeof value === 'string') {
    const i = choices.indexOf(value);
    if (i >= 0) idx = i;
    else if (/^\s*\d+\s*$/.test(value)) idx = Number(value);
  }
  if (idx === undefined) throw new Error(`${field}: expected the index of the correct choice or one of the ${choices.length} choices, got ${describeValue(value)}`);
  if (idx < 0 || idx >= choices.length) throw new Error(`${field}: choice index ${idx} is out of range for ${choices.length} choices`);
  return idx;
}
