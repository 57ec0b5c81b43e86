// A byte-level BPE trainer (GPT-2 style) so juice can create the embedded default model's tokenizer
// itself: no download, and a real tokenizer.json that any Hugging Face tokenizer library loads.
// Deterministic: the most frequent pair wins, ties go to the lexically smallest pair.

/** GPT-2's reversible byte → printable unicode map (so every byte is a visible vocabulary symbol). */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const map = new Array<string>(256);
  bs.forEach((b, i) => (map[b] = String.fromCodePoint(cs[i]!)));
  return map;
}

/** The pre-tokenizer regex of the ByteLevel pre-tokenizer (use_regex: true), as in GPT-2. */
export const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

export interface BpeModel {
  vocab: Map<string, number>;
  merges: [string, string][];
}

export interface TrainOptions {
  /** Total vocabulary including special tokens. */
  vocabSize: number;
  /** Special tokens, given the first ids in order. */
  specialTokens: string[];
  /** Never merge digits with anything: numbers stay one token per digit, which small models need for arithmetic. */
  splitDigits?: boolean;
}

export function trainByteLevelBpe(texts: Iterable<string>, o: TrainOptions): BpeModel {
  const byteMap = bytesToUnicode();
  const encoder = new TextEncoder();
  const counts = new Map<string, number>();
  for (const text of texts) {
    for (const m of text.matchAll(GPT2_SPLIT)) {
      const word = Array.from(encoder.encode(m[0]), (b) => byteMap[b]!).join('\u0000');
      counts.set(word, (counts.get(word) ?? 0) + 1);
    }
  }
  const words = [...counts].map(([w, c]) => ({ symbols: w.split('\u0000'), count: c }));
  const vocab = new Map<string, number>();
  for (const s of o.specialTokens) vocab.set(s, vocab.size);
  for (let b = 0; b < 256; b++) vocab.set(byteMap[b]!, vocab.size);
  const merges: [string, string][] = [];
  const isDigit = (s: string) => /[0-9]/.test(s);
  while (vocab.size < o.vocabSize) {
    const pairs = new Map<string, number>();
    for (const w of words) {
      for (let i = 0; i + 1 < w.symbols.length; i++) {
        const a = w.symbols[i]!;
        const b = w.symbols[i + 1]!;
        if (o.splitDigits && (isDigit(a) || isDigit(b))) continue;
        const key = `${a} ${b}`;
        pairs.set(key, (pairs.get(key) ?? 0) + w.count);
      }
    }
    let best: string | undefined;
    let bestCount = 1; // a pair seen once is not worth a vocabulary entry
    for (const [k, c] of pairs) if (c > bestCount || (c === bestCount && best !== undefined && k < best)) (best = k), (bestCount = c);
    if (!best) break;
    const [a, b] = best.split(' ') as [string, string];
    merges.push([a, b]);
    vocab.set(a + b, vocab.size);
    for (const w of words) {
      const s = w.symbols;
      for (let i = 0; i + 1 < s.length; i++) if (s[i] === a && s[i + 1] === b) s.splice(i, 2, a + b);
    }
  }
  return { vocab, merges };
}
