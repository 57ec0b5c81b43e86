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

/**
 * Learns merges the way GPT-2's BPE does: repeatedly merge the most frequent adjacent pair inside
 * pre-tokenized words. Pair counts are kept incrementally (only the words holding the merged pair are
 * recounted), so a few hundred KB train in well under a second.
 */
export function trainByteLevelBpe(texts: Iterable<string>, o: TrainOptions): BpeModel {
  const byteMap = bytesToUnicode();
  const encoder = new TextEncoder();
  const tokens: string[] = []; // symbol id → text
  const idOf = new Map<string, number>();
  const symbol = (text: string) => {
    let id = idOf.get(text);
    if (id === undefined) idOf.set(text, (id = tokens.push(text) - 1));
    return id;
  };
  for (let b = 0; b < 256; b++) symbol(byteMap[b]!);
  // A special token spelled like a byte symbol would take that byte's vocabulary entry.
  for (const t of o.specialTokens) if (idOf.has(t)) throw new Error(`special token ${JSON.stringify(t)} collides with a byte symbol of the vocabulary`);
  const wordCounts = new Map<string, number>();
  for (const text of texts) for (const m of text.matchAll(GPT2_SPLIT)) wordCounts.set(m[0], (wordCounts.get(m[0]) ?? 0) + 1);
  const words = [...wordCounts].map(([w, count]) => ({ symbols: Array.from(encoder.encode(w), (b) => b), count }));

  const noMerge = new Set<number>();
  if (o.splitDigits) for (let d = 0x30; d <= 0x39; d++) noMerge.add(d); // byte ids of '0'..'9'
  const KEY = 2 ** 24; // pair key a*KEY+b stays exact: symbol ids are far below 2^24
  const pairCounts = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const account = (w: number, sign: 1 | -1) => {
    const { symbols: s, count } = words[w]!;
    for (let i = 0; i + 1 < s.length; i++) {
      const a = s[i]!;
      const b = s[i + 1]!;
      if (noMerge.has(a) || noMerge.has(b)) continue;
      const k = a * KEY + b;
      const c = (pairCounts.get(k) ?? 0) + sign * count;
      if (c > 0) pairCounts.set(k, c);
      else pairCounts.delete(k);
      if (sign > 0) {
        let set = pairWords.get(k);
        if (!set) pairWords.set(k, (set = new Set()));
        set.add(w); // stale members (the pair merged away since) cost a recount, never a wrong count
      }
    }
  };
  words.forEach((_, w) => account(w, 1));

  const vocabSize = o.vocabSize - o.specialTokens.length;
  const merges: [string, string][] = [];
  const learned = new Set<number>(tokens.keys());
  while (learned.size < vocabSize) {
    let best = -1;
    let bestCount = 1; // a pair seen once is not worth a vocabulary entry
    for (const [k, c] of pairCounts) {
      if (c < bestCount) continue;
      if (c > bestCount || (best >= 0 && lexLess(k, best))) (best = k), (bestCount = c);
    }
    if (best < 0) break;
    const a = Math.floor(best / KEY);
    const b = best % KEY;
    const merged = symbol(tokens[a]! + tokens[b]!);
    merges.push([tokens[a]!, tokens[b]!]);
    learned.add(merged);
    for (const w of pairWords.get(best) ?? []) {
      account(w, -1);
      const s = words[w]!.symbols;
      const out: number[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) out.push(merged), i++;
        else out.push(s[i]!);
      }
      words[w]!.symbols = out;
      account(w, 1);
    }
    pairWords.delete(best);
  }

  function lexLess(k1: number, k2: number): boolean {
    const a1 = tokens[Math.floor(k1 / KEY)]!;
    const a2 = tokens[Math.floor(k2 / KEY)]!;
    if (a1 !== a2) return a1 < a2;
    return tokens[k1 % KEY]! < tokens[k2 % KEY]!;
  }

  const vocab = new Map<string, number>();
  for (const t of o.specialTokens) vocab.set(t, vocab.size);
  for (const t of tokens) if (learned.has(idOf.get(t)!) && !vocab.has(t)) vocab.set(t, vocab.size);
  return { vocab, merges };
}
