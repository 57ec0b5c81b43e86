// GSM8K-style answer extraction and exact-match normalisation (lm-eval's regex filter and
// exact_match metric).

import { compileLinearRegex, type LinearRegex } from '@juice/proto';

export type { LinearRegex };

/**
 * Compiles a task regex on RE2 (linear-time matching: a request's pattern cannot stall the event loop,
 * which JavaScript's backtracking RegExp allows, e.g. ^(a+)+$ against a run of a's). Inline flags such
 * as "(?i)" and "(?s)", common in lm-eval YAML, are RE2 syntax. Backreferences and lookaround are not,
 * and are refused naming the field (INVALID_ARGUMENT).
 */
export function compileRegex(source: string, field: string): LinearRegex {
  return compileLinearRegex(source, field);
}

/**
 * The answer in `text`: with no regex the whole text trimmed; otherwise the LAST match's first
 * non-empty capture group (lm-eval's regex filter skips empty groups), or the whole match when the
 * regex has no groups. undefined when nothing matches (counted as a wrong answer).
 */
export function extractAnswer(text: string, regex: LinearRegex | undefined): string | undefined {
  if (!regex) return text.trim();
  const m = regex.matcher(text);
  let last: (string | null)[] | undefined;
  while (m.find()) {
    last = [];
    for (let g = 0; g <= m.groupCount(); g++) last.push(m.group(g));
  }
  if (!last) return undefined;
  if (last.length === 1) return last[0] ?? '';
  for (let g = 1; g < last.length; g++) if (last[g]) return last[g]!;
  return '';
}

export interface NormaliseOptions {
  ignoreCase: boolean;
  ignorePunctuation: boolean;
  ignoreStrings: readonly string[];
}

// Python's string.punctuation, which lm-eval's ignore_punctuation strips.
const PUNCTUATION = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;

/** ignore_strings removed, then case folded, then punctuation stripped (lm-eval's order); trimmed. */
export function normalise(text: string, o: NormaliseOptions): string {
  let s = text;
  for (const r of o.ignoreStrings) if (r) s = s.split(r).join('');
  if (o.ignoreCase) s = s.toLowerCase();
  if (o.ignorePunctuation) s = s.replace(PUNCTUATION, '');
  return s.trim();
}

export function exactMatch(answer: string | undefined, target: string, o: NormaliseOptions): boolean {
  if (answer === undefined) return false;
  return normalise(answer, o) === normalise(target, o);
}
