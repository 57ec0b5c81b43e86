// GSM8K-style answer extraction and exact-match normalisation (lm-eval's regex filter and
// exact_match metric).

/**
 * Compiles a task regex. Leading inline flags "(?i)", "(?s)", "(?m)" (RE2 / Python syntax, common
 * in lm-eval YAML) become JavaScript flags, since JavaScript has no inline flag groups.
 */
export function compileRegex(source: string, field: string): RegExp {
  let src = source;
  let flags = 'gu';
  const inline = /^\(\?([ims]+)\)/.exec(src);
  if (inline) {
    flags += [...new Set(inline[1]!)].join('');
    src = src.slice(inline[0].length);
  }
  try {
    return new RegExp(src, flags);
  } catch {
    try {
      // Patterns written for RE2/Python may use escapes unicode mode rejects (e.g. "\-").
      return new RegExp(src, flags.replace('u', ''));
    } catch (e) {
      throw new Error(`${field}: invalid regular expression ${JSON.stringify(source)}: ${(e as Error).message}`);
    }
  }
}

/**
 * The answer in `text`: with no regex the whole text trimmed; otherwise the LAST match's first
 * non-empty capture group (lm-eval's regex filter skips empty groups), or the whole match when the
 * regex has no groups. undefined when nothing matches (counted as a wrong answer).
 */
export function extractAnswer(text: string, regex: RegExp | undefined): string | undefined {
  if (!regex) return text.trim();
  let last: RegExpExecArray | undefined;
  for (const m of text.matchAll(regex)) last = m;
  if (!last) return undefined;
  if (last.length === 1) return last[0];
  for (let g = 1; g < last.length; g++) if (last[g]) return last[g];
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
