// Prompt and response of CHAT / PROMPT_COMPLETION rows (DataSchema), used by PERPLEXITY and
// REWARD_WIN_RATE without templates. Conversations are sent as chat turns so the model applies
// its own template; the plain-text rendering is only the fallback for models without one.
import { DataSchema, type DatasetSpec } from '@juice/proto';
import type { ChatTurn } from '../model.js';
import type { Doc } from '../task-data.js';
import type { DocContext } from './view.js';

export interface RowPair extends DocContext {
  /** The response to score or compare against (the last assistant turn / the completion). */
  response: string;
}

function turns(value: unknown, column: string, row: number): ChatTurn[] {
  if (!Array.isArray(value)) throw new Error(`dataset row ${row}: column "${column}" must be a list of {role, content}, got ${typeof value}`);
  return value.map((m, i) => {
    const o = m as { role?: unknown; content?: unknown } | null;
    if (!o || typeof o.role !== 'string' || typeof o.content !== 'string')
      throw new Error(`dataset row ${row}: ${column}[${i}] must be {role: string, content: string}`);
    return { role: o.role, content: o.content };
  });
}

/** Plain-text rendering of turns, ending with the assistant cue the response follows. */
export function plainChat(chat: readonly ChatTurn[]): string {
  return chat.map((m) => `${m.role}: ${m.content}`).join('\n\n') + '\n\nassistant:';
}

function column(doc: Doc, name: string, row: number, schema: string): unknown {
  if (!Object.prototype.hasOwnProperty.call(doc, name))
    throw new Error(`dataset row ${row}: ${schema} column "${name}" is missing; columns found: ${Object.keys(doc).join(', ')} (map it with dataset.fields)`);
  return doc[name];
}

export function rowPair(doc: Doc, row: number, ds: DatasetSpec): RowPair {
  const f = ds.fields;
  const system = f?.system && typeof doc[f.system] === 'string' ? (doc[f.system] as string) : '';
  const withSystem = (chat: ChatTurn[]): ChatTurn[] => (system && chat[0]?.role !== 'system' ? [{ role: 'system', content: system }, ...chat] : chat);

  if (ds.schema === DataSchema.CHAT) {
    const name = f?.messages || 'messages';
    const all = turns(column(doc, name, row, 'CHAT'), name, row);
    const last = all.at(-1);
    if (!last || last.role !== 'assistant') throw new Error(`dataset row ${row}: the last turn of "${name}" must be the assistant's response`);
    const chat = withSystem(all.slice(0, -1));
    return { context: plainChat(chat), chat, response: last.content };
  }
  if (ds.schema === DataSchema.PROMPT_COMPLETION) {
    const pName = f?.prompt || 'prompt';
    const cName = f?.completion || 'completion';
    const p = column(doc, pName, row, 'PROMPT_COMPLETION');
    const c = column(doc, cName, row, 'PROMPT_COMPLETION');
    const response = typeof c === 'string' ? c : turns(c, cName, row).filter((m) => m.role === 'assistant').map((m) => m.content).join('\n');
    if (typeof p === 'string' && !system) return { context: p, response };
    const chat = withSystem(typeof p === 'string' ? [{ role: 'user', content: p }] : turns(p, pName, row));
    return { context: plainChat(chat), chat, response };
  }
  throw new Error(`dataset.schema: only CHAT and PROMPT_COMPLETION rows can be used without templates`);
}
