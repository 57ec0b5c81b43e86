// Request data quoted back in an error is bounded: a 1 MB job id or path must not come back whole in
// the status message (nor fill logs). Every message that echoes a client-supplied string uses this.

/** Characters of a client string an error quotes before cutting it. */
export const ECHO_MAX_CHARS = 80;

/**
 * The string JSON-quoted, cut to `max` characters with how much was left out, e.g.
 * `"aaaa…" (1048576 characters)`. Quoting keeps control characters and newlines visible and inert.
 */
export function echo(s: string, max = ECHO_MAX_CHARS): string {
  if (s.length <= max) return JSON.stringify(s);
  return `${JSON.stringify(s.slice(0, max))}… (${s.length} characters)`;
}

