// Where a JSON text stops being JSON, said without quoting it. JSON.parse's own message quotes the
// text ("Unexpected token 'r', "root:x:0:0"... is not valid JSON"), and a service reading a file on a
// request's behalf must never send file contents back; this names the 1-based column and what was
// expected there instead.

export interface JsonSyntaxError {
  /** 1-based column (in UTF-16 code units, as editors count for most text) of the first bad character. */
  column: number;
  /** What the parser expected there, in words that quote nothing from the text. */
  problem: string;
}

class Scan {
  i = 0;
  constructor(readonly s: string) {}
  fail(problem: string): never {
    throw Object.assign(new Error(problem), { at: this.i });
  }
  ws(): void {
    while (this.i < this.s.length && ' \t\n\r'.includes(this.s[this.i]!)) this.i++;
  }
  value(depth: number): void {
    if (depth > 512) this.fail('nesting is deeper than 512 levels');
    this.ws();
    const c = this.s[this.i];
    if (c === undefined) this.fail('the text ends where a value was expected');
    if (c === '{') return this.object(depth);
    if (c === '[') return this.array(depth);
    if (c === '"') return this.string();
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    for (const word of ['true', 'false', 'null']) if (this.s.startsWith(word, this.i)) return void (this.i += word.length);
    this.fail('expected a value (object, array, string, number, true, false or null)');
  }
  object(depth: number): void {
    this.i++;
    this.ws();
    if (this.s[this.i] === '}') return void this.i++;
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.fail('expected a double-quoted property name');
      this.string();
      this.ws();
      if (this.s[this.i] !== ':') this.fail("expected ':' after a property name");
      this.i++;
      this.value(depth + 1);
      this.ws();
      if (this.s[this.i] === ',') this.i++;
      else if (this.s[this.i] === '}') return void this.i++;
      else this.fail("expected ',' or '}' after a property value");
    }
  }
  array(depth: number): void {
    this.i++;
    this.ws();
    if (this.s[this.i] === ']') return void this.i++;
    for (;;) {
      this.value(depth + 1);
      this.ws();
      if (this.s[this.i] === ',') this.i++;
      else if (this.s[this.i] === ']') return void this.i++;
      else this.fail("expected ',' or ']' after an array element");
    }
  }
  string(): void {
    this.i++;
    for (;;) {
      const c = this.s[this.i];
      if (c === undefined) this.fail('a string is not closed');
      if (c === '"') return void this.i++;
      if (c < ' ') this.fail('a control character inside a string must be escaped');
      if (c === '\\') {
        const e = this.s[this.i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(this.s.slice(this.i + 2, this.i + 6))) this.fail('a \\u escape needs four hex digits');
          this.i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) this.i += 2;
        else this.fail('an invalid escape sequence');
      } else this.i++;
    }
  }
  number(): void {
    const m = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
    m.lastIndex = this.i;
    if (!m.exec(this.s) || m.lastIndex === this.i) this.fail('a malformed number');
    this.i = m.lastIndex;
  }
}

/** The first syntax error of `text`, or undefined when it is valid JSON. */
export function jsonSyntaxError(text: string): JsonSyntaxError | undefined {
  const scan = new Scan(text);
  try {
    scan.value(0);
    scan.ws();
    if (scan.i < text.length) scan.fail('unexpected text after the JSON value');
    return undefined;
  } catch (e) {
    return { column: ((e as { at?: number }).at ?? scan.i) + 1, problem: (e as Error).message };
  }
}

/** "not valid JSON at column 1: expected a value (...)": for `where: ${describeJsonError(text)}`. */
export function describeJsonError(text: string): string {
  const e = jsonSyntaxError(text);
  return e ? `not valid JSON at column ${e.column}: ${e.problem}` : 'not valid JSON';
}
