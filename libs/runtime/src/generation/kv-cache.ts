// The KV cache of a decode batch, in fixed-capacity buffers fed to the decode graph zero-copy
// ([rows, Hkv, capacity, d] per layer plus a [rows, capacity] mask). New keys/values are written at
// each row's length, so rows of different lengths share one batch and no step copies the cache.
import type { TensorLike } from '../tensor.js';

export interface KvShape {
  layers: number;
  kvHeads: number;
  headDim: number;
}

export class KvCache {
  readonly keys: Float32Array[];
  readonly values: Float32Array[];
  readonly mask: BigInt64Array;
  /**
   * Position of the key in each slot, for sliding-window decode graphs (input past_positions). Prefill
   * writes position t at slot t and a decode step writes position `length` at slot `length`, so it is
   * the slot index in every row and never changes (moveRow keeps it).
   */
  readonly positions: BigInt64Array;
  /** Tokens cached per row. */
  readonly lengths: number[];
  /**
   * Slots per row that may hold a key/value (written since the cache was made or cleared); every slot
   * from here on is zero. Masked slots must hold finite values, not just anything: the decode graph masks
   * with an additive bias, and a masked slot's softmax weight of 0 times a NaN or ±Inf value is NaN. So a
   * non-finite key/value left by an earlier row (weights that overflowed, under any version) would
   * poison every later row that reuses the slot; writePrefill zeroes a reused row's stale tail instead.
   */
  private readonly written: number[];

  constructor(
    readonly shape: KvShape,
    readonly rows: number,
    readonly capacity: number,
  ) {
    const size = rows * shape.kvHeads * capacity * shape.headDim;
    this.keys = Array.from({ length: shape.layers }, () => new Float32Array(size));
    this.values = Array.from({ length: shape.layers }, () => new Float32Array(size));
    this.mask = new BigInt64Array(rows * capacity);
    this.positions = BigInt64Array.from({ length: rows * capacity }, (_, i) => BigInt(i % capacity));
    this.lengths = new Array<number>(rows).fill(0);
    this.written = new Array<number>(rows).fill(0);
  }

  private offset(row: number, head: number, pos: number): number {
    return ((row * this.shape.kvHeads + head) * this.capacity + pos) * this.shape.headDim;
  }

  /**
   * Stores a prefill's present keys/values ([B, Hkv, T, d] per layer) for batch row b into cache row
   * `rows[b]`, `lengths[b]` tokens each.
   */
  writePrefill(present: { key: Float32Array; value: Float32Array }[], T: number, rows: readonly number[], lengths: readonly number[]): void {
    const { kvHeads: H, headDim: d } = this.shape;
    rows.forEach((row, b) => {
      if (lengths[b]! > this.capacity) throw new Error(`prompt of ${lengths[b]} tokens exceeds the cache capacity ${this.capacity}`);
      for (let l = 0; l < present.length; l++) {
        for (let h = 0; h < H; h++) {
          const src = ((b * H + h) * T) * d;
          this.keys[l]!.set(present[l]!.key.subarray(src, src + lengths[b]! * d), this.offset(row, h, 0));
          this.values[l]!.set(present[l]!.value.subarray(src, src + lengths[b]! * d), this.offset(row, h, 0));
        }
      }
      this.zeroTail(row, lengths[b]!);
      this.mask.fill(0n, row * this.capacity, (row + 1) * this.capacity);
      this.mask.fill(1n, row * this.capacity, row * this.capacity + lengths[b]!);
      this.lengths[row] = lengths[b]!;
    });
  }

  /** Appends one decode step's new keys/values ([rows, Hkv, 1, d] per layer) for the first `active` rows. */
  append(next: { key: Float32Array; value: Float32Array }[], active: number): void {
    const { kvHeads: H, headDim: d } = this.shape;
    for (let row = 0; row < active; row++) {
      const pos = this.lengths[row]!;
      if (pos >= this.capacity) throw new Error(`row ${row} is full (capacity ${this.capacity})`);
      for (let l = 0; l < next.length; l++) {
        for (let h = 0; h < H; h++) {
          const src = (row * H + h) * d;
          this.keys[l]!.set(next[l]!.key.subarray(src, src + d), this.offset(row, h, pos));
          this.values[l]!.set(next[l]!.value.subarray(src, src + d), this.offset(row, h, pos));
        }
      }
      this.mask[row * this.capacity + pos] = 1n;
      this.lengths[row] = pos + 1;
      this.written[row] = Math.max(this.written[row]!, pos + 1);
    }
  }

  /** Moves row `from` into row `to` (compaction when a sequence finishes: active rows stay in front). */
  moveRow(from: number, to: number): void {
    const span = this.shape.kvHeads * this.capacity * this.shape.headDim;
    for (let l = 0; l < this.shape.layers; l++) {
      this.keys[l]!.copyWithin(to * span, from * span, (from + 1) * span);
      this.values[l]!.copyWithin(to * span, from * span, (from + 1) * span);
    }
    this.mask.copyWithin(to * this.capacity, from * this.capacity, (from + 1) * this.capacity);
    this.lengths[to] = this.lengths[from]!;
    this.written[to] = this.written[from]!;
  }

  /** Zeroes row `row`'s slots from `from` up to what earlier rows wrote there. */
  private zeroTail(row: number, from: number): void {
    const end = this.written[row]!;
    if (end > from) {
      for (let l = 0; l < this.shape.layers; l++) {
        for (let h = 0; h < this.shape.kvHeads; h++) {
          this.keys[l]!.fill(0, this.offset(row, h, from), this.offset(row, h, end));
          this.values[l]!.fill(0, this.offset(row, h, from), this.offset(row, h, end));
        }
      }
    }
    this.written[row] = from;
  }

  /** Back to the state of a new cache (all zero, no row cached), e.g. when the weights change. */
  clear(): void {
    for (let row = 0; row < this.rows; row++) this.zeroTail(row, 0);
    this.mask.fill(0n);
    this.lengths.fill(0);
  }

  /** Decode-graph feeds for the first `active` rows (views: no copy); past_positions only if the graph takes it. */
  feeds(active: number, withPositions = false): Record<string, TensorLike> {
    const { kvHeads: H, headDim: d, layers } = this.shape;
    const span = H * this.capacity * d;
    const out: Record<string, TensorLike> = {
      past_mask: { data: this.mask.subarray(0, active * this.capacity), dims: [active, this.capacity] },
    };
    if (withPositions) out.past_positions = { data: this.positions.subarray(0, active * this.capacity), dims: [active, this.capacity] };
    for (let l = 0; l < layers; l++) {
      out[`past.${l}.key`] = { data: this.keys[l]!.subarray(0, active * span), dims: [active, H, this.capacity, d] };
      out[`past.${l}.value`] = { data: this.values[l]!.subarray(0, active * span), dims: [active, H, this.capacity, d] };
    }
    return out;
  }
}
