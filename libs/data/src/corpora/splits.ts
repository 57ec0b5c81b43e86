// The fixed, seeded train / validation / test split of a packaged corpus. A row's split depends only on
// the seed and its group key (e.g. the headword), never on file order or on the other rows, so adding
// rows to a corpus does not move old ones, and every row of a group lands in the same split: the test
// words are never seen in training, not even as another sense of the same word.
import { fmix32, seedToUint32 } from '../seeded-random.js';

export type SplitName = 'train' | 'validation' | 'test';

export interface SplitFractions {
  validation: number;
  test: number;
}

/** FNV-1a over the UTF-16 code units: a fixed, platform-independent string hash. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** A uniform [0, 1) value per (seed, key). */
export function keyUniform(seed: number, key: string): number {
  return fmix32(fmix32(seedToUint32(seed)) ^ fnv1a(key)) / 2 ** 32;
}

export function splitOf(seed: number, group: string, f: SplitFractions): SplitName {
  for (const [name, v] of [['validation', f.validation], ['test', f.test]] as const) {
    if (!(v >= 0 && v < 1)) throw new RangeError(`${name} fraction must be in [0, 1), got ${v}`);
  }
  if (f.validation + f.test >= 1) throw new RangeError(`validation + test fractions must leave rows for training, got ${f.validation} + ${f.test}`);
  const u = keyUniform(seed, group);
  if (u < f.test) return 'test';
  if (u < f.test + f.validation) return 'validation';
  return 'train';
}
