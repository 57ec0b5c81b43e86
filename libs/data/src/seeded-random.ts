// A small seeded PRNG so data order and synthetic datasets are reproducible across machines and Node
// versions (Math.random is neither seedable nor specified). Algorithm: mulberry32 (Tommy Ettinger,
// public domain): a 32-bit Weyl sequence (state += 0x6D2B79F5) finalised by an xorshift-multiply
// mix; period 2^32, which is ample for shuffles of up to millions of rows and toy data generation.
// Seeds are reduced to 32 bits and passed through murmur3's fmix32 first, so nearby seeds
// (seed, seed + 1 for consecutive epochs) start far apart in the sequence.

/** Reduces any integer seed (negative, or beyond 2^32, up to 2^53) to a uint32. */
export function seedToUint32(seed: number | bigint): number {
  if (typeof seed === 'bigint') return Number(BigInt.asUintN(32, seed));
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
  return Number(BigInt.asUintN(32, BigInt(seed)));
}

/** murmur3 fmix32: a bijective avalanche mix of a 32-bit integer. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export interface SeededRandom {
  /** Uniform float in [0, 1) with 32 bits of randomness. */
  next(): number;
  /** Uniform integer in [0, n) for 1 <= n <= 2^32. */
  int(n: number): number;
  /** Uniform integer in [lo, hi] inclusive. */
  range(lo: number, hi: number): number;
  /** A uniformly chosen element. */
  pick<T>(items: readonly T[]): T;
}

export function mulberry32(seed: number | bigint): SeededRandom {
  let state = fmix32(seedToUint32(seed));
  const nextUint32 = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  const rng: SeededRandom = {
    next: () => nextUint32() / 4294967296,
    // Multiply-shift instead of modulo; the bias is < n / 2^32, irrelevant at these sizes.
    int: (n) => Math.floor((nextUint32() / 4294967296) * n),
    range: (lo, hi) => lo + rng.int(hi - lo + 1),
    pick: (items) => {
      if (items.length === 0) throw new RangeError('pick from an empty list');
      return items[rng.int(items.length)]!;
    },
  };
  return rng;
}

/** In-place Fisher–Yates shuffle driven by `rng`. */
export function shuffleInPlace<T>(items: T[], rng: SeededRandom): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = items[i]!;
    items[i] = items[j]!;
    items[j] = t;
  }
  return items;
}
