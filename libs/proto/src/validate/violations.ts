// Hand-written request validation. juice cannot use protovalidate offline (its proto lives only in
// the Buf registry), so the limits stated in the .proto field comments are enforced here, once, for
// every service. A violation names the field path the way a client wrote it (`prompts[2].tokens.ids[5]`).

export interface Violation {
  /** Field path in proto (snake_case) names, e.g. `sampling.top_p`. */
  field: string;
  /** What is wrong and what would be valid, e.g. `must be in (0, 1], got 1.5`. */
  problem: string;
}

/** Collects violations; the first one is what a service reports (a person fixes one thing at a time). */
export class Violations {
  readonly list: Violation[] = [];

  add(field: string, problem: string): void {
    this.list.push({ field, problem });
  }

  get ok(): boolean {
    return this.list.length === 0;
  }

  /** Checks lo <= v <= hi (bounds optional); NaN always fails. */
  range(field: string, v: number | bigint, lo: number | bigint | undefined, hi: number | bigint | undefined, what = ''): void {
    const bad = (typeof v === 'number' && Number.isNaN(v)) || (lo !== undefined && v < lo) || (hi !== undefined && v > hi);
    if (!bad) return;
    const range = lo !== undefined && hi !== undefined ? `in [${lo}, ${hi}]` : lo !== undefined ? `>= ${lo}` : `<= ${hi}`;
    this.add(field, `must be ${range}${what ? ` (${what})` : ''}, got ${v}`);
  }

  count(field: string, n: number, lo: number, hi: number): void {
    if (n < lo || n > hi) this.add(field, lo === hi ? `must have exactly ${lo} entries, got ${n}` : `must have ${lo}..${hi} entries, got ${n}`);
  }

  utf8Bytes(field: string, s: string, max: number, min = 0): void {
    // Every UTF-16 code unit encodes to at least one byte, so an over-long string is refused without
    // walking it (counting the bytes of a 10 MB prompt costs ~0.1 s of event loop).
    if (s.length > max) return this.add(field, `must be at most ${max} bytes of UTF-8, got at least ${s.length}`);
    const n = Buffer.byteLength(s, 'utf8');
    if (n > max || n < min) this.add(field, min > 0 ? `must be ${min}..${max} bytes of UTF-8, got ${n}` : `must be at most ${max} bytes of UTF-8, got ${n}`);
  }

  required(field: string, present: boolean): void {
    if (!present) this.add(field, 'is required');
  }
}

export const SHA256_HEX = /^[0-9a-f]{64}$/;
