// Streaming text for generated tokens. Decoding token by token is wrong (a character's UTF-8 bytes can
// span tokens; SentencePiece decoders treat a sequence's first token specially), and re-decoding the whole
// sequence each step is quadratic. So, as vLLM does, decode a short window twice — without and with the
// newest tokens — and emit the difference once it no longer ends in an incomplete character (U+FFFD).

export class IncrementalDetokenizer {
  private readonly ids: number[] = [];
  /** Start of the context window: tokens before the last emitted piece, kept so decoders see context. */
  private prefixOffset = 0;
  /** Tokens before this are emitted. */
  private readOffset = 0;

  constructor(private readonly decode: (ids: number[]) => string) {}

  /** Adds one token; returns the text it completes (often '', e.g. mid-character or a skipped special token). */
  push(id: number): string {
    this.ids.push(id);
    return this.emit(false);
  }

  /** At the end of the sequence: whatever is still held back (an incomplete character decodes as U+FFFD). */
  flush(): string {
    return this.emit(true);
  }

  private emit(final: boolean): string {
    if (this.readOffset === this.ids.length) return '';
    const prefix = this.decode(this.ids.slice(this.prefixOffset, this.readOffset));
    const full = this.decode(this.ids.slice(this.prefixOffset));
    if (full.length <= prefix.length || (!final && full.endsWith('\uFFFD'))) {
      if (final) this.prefixOffset = this.readOffset = this.ids.length;
      return '';
    }
    this.prefixOffset = this.readOffset;
    this.readOffset = this.ids.length;
    return full.slice(prefix.length);
  }
}
