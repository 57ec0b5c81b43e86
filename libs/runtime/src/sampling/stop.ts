// Stop-string detection over decoded text that arrives piece by piece. The text held back is the
// longest suffix that could still become a stop string, so a streaming client never sees text that
// a later token turns into a stop match.
export interface StopMatch {
  /** Text to emit now (before any stop string). */
  emit: string;
  /** The stop string that matched, if any; generation ends. */
  matched?: string;
}

export class StopStringMatcher {
  private pending = '';
  private readonly maxLen: number;

  constructor(
    private readonly stops: readonly string[],
    private readonly includeStop = false,
  ) {
    this.maxLen = stops.reduce((m, s) => Math.max(m, s.length), 0);
  }

  push(text: string): StopMatch {
    if (this.stops.length === 0) return { emit: text };
    this.pending += text;
    let first = -1;
    let matched: string | undefined;
    for (const s of this.stops) {
      const i = this.pending.indexOf(s);
      if (i >= 0 && (first < 0 || i < first)) (first = i), (matched = s);
    }
    if (matched !== undefined) {
      const emit = this.pending.slice(0, first) + (this.includeStop ? matched : '');
      this.pending = '';
      return { emit, matched };
    }
    // Hold back the longest suffix that is a prefix of some stop string.
    let hold = 0;
    for (let k = Math.min(this.maxLen - 1, this.pending.length); k > 0; k--) {
      const suffix = this.pending.slice(this.pending.length - k);
      if (this.stops.some((s) => s.startsWith(suffix))) {
        hold = k;
        break;
      }
    }
    const emit = this.pending.slice(0, this.pending.length - hold);
    this.pending = this.pending.slice(this.pending.length - hold);
    return { emit };
  }

  /** At the end of generation: whatever was held back is ordinary text. */
  flush(): string {
    const rest = this.pending;
    this.pending = '';
    return rest;
  }
}
