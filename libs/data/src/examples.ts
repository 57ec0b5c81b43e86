// The canonical training examples every schema is converted to, so trainers never see file
// layouts: a demonstration (prompt + the expert's response) or a preference pair.
import type { RowSource } from './read-rows.js';

export interface ChatMessage {
  role: string;
  content: string;
}

/** A plain-text prompt (tokenized as is) or a conversation (rendered with the chat template). */
export type Prompt = { kind: 'text'; text: string } | { kind: 'chat'; messages: ChatMessage[] };

export type ExampleSource = Pick<RowSource, 'file' | 'row'> & Partial<Pick<RowSource, 'line' | 'index'>>;

export interface Demonstration {
  prompt: Prompt;
  response: string;
  source: ExampleSource;
}

export interface PreferencePair {
  prompt: Prompt;
  chosen: string;
  rejected: string;
  source: ExampleSource;
}

/** The prompt as plain text, e.g. for logs and reports (chat turns as "role: content" lines). */
export function promptToDisplayText(p: Prompt): string {
  return p.kind === 'text' ? p.text : p.messages.map((m) => `${m.role}: ${m.content}`).join('\n');
}
