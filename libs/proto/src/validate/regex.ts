// Regular expressions from requests (task answer_regex / target_regex) run on RE2 (the re2js port):
// matching is linear in the text, so a pattern like ^(a+)+$ cannot stall the event loop the way a
// backtracking engine (JavaScript's RegExp) does. RE2 has no backreferences or lookaround; such
// patterns are refused when the request is validated, naming the field.
import { RE2JS } from 're2js';
import { echo } from './echo.js';

export type LinearRegex = RE2JS;

/** Longest pattern accepted (RE2 compiles in time and memory proportional to the pattern). */
export const MAX_REGEX_CHARS = 1024;

/** Why `source` is not an RE2 pattern, or undefined when it compiles. */
export function regexProblem(source: string): string | undefined {
  if (source.length > MAX_REGEX_CHARS) return `must be at most ${MAX_REGEX_CHARS} characters, got ${source.length}`;
  try {
    RE2JS.compile(source);
    return undefined;
  } catch (e) {
    // RE2's message quotes the offending part of the pattern: request data, so bounded.
    const m = /^error parsing regexp: ([^:`]+)(?:: `(.*)`)?$/s.exec((e as Error).message);
    const what = m ? `${m[1]}${m[2] !== undefined ? ` at ${echo(m[2], 40)}` : ''}` : 'cannot be compiled';
    return `is not a pattern the linear-time (RE2) engine accepts: ${what} (RE2 syntax: no backreferences or lookaround)`;
  }
}

/** Compiles a request pattern (RE2 syntax; inline flags such as (?i) and (?s) are RE2 syntax too). */
export function compileLinearRegex(source: string, field: string): LinearRegex {
  const problem = regexProblem(source);
  if (problem) throw Object.assign(new Error(`${field}: ${problem}`), { grpcCode: 'INVALID_ARGUMENT' });
  return RE2JS.compile(source);
}
