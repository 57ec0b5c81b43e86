// Deterministic, resumable order over a dataset's rows. Each epoch is a fresh seeded permutation
// (PRNG seed = shuffleSeed + epoch, see seeded-random.ts), so the order depends only on
// (dataset size, shuffleSeed, epoch): a job restored from a saved DataCursor regenerates the same
// permutation and skips the rows already consumed, seeing exactly the remaining order it would have
// seen without the interruption.
import { mulberry32, shuffleInPlace } from './seeded-random.js';

/** Where a job is in its data; saved with checkpoints. */
export interface DataCursor {
  /** 0-based epoch. */
  epoch: number;
  /** Rows of this epoch already handed out. */
  rowsConsumed: number;
  /** Base seed of the per-epoch permutations. */
  shuffleSeed: number;
}

export interface DataOrderOptions {
  /** Default true; false = file order every epoch (the cursor still tracks progress). */
  shuffle?: boolean;
}

/** The row order of one epoch: a permutation of 0..size-1. */
export function epochOrder(size: number, shuffleSeed: number, epoch: number, shuffle = true): Uint32Array {
  if (!Number.isInteger(size) || size < 0) throw new RangeError(`dataset size must be a non-negative integer, got ${size}`);
  const order = Array.from({ length: size }, (_, i) => i);
  if (shuffle) shuffleInPlace(order, mulberry32(shuffleSeed + epoch));
  return Uint32Array.from(order);
}

export function validateCursor(c: DataCursor, size: number): void {
  const bad = (what: string) => new RangeError(`data cursor ${what} (cursor ${JSON.stringify(c)}, dataset of ${size} rows)`);
  if (!Number.isSafeInteger(c.epoch) || c.epoch < 0) throw bad('epoch must be a non-negative integer');
  if (!Number.isSafeInteger(c.rowsConsumed) || c.rowsConsumed < 0) throw bad('rowsConsumed must be a non-negative integer');
  if (c.rowsConsumed > size) throw bad('rowsConsumed exceeds the dataset size; was it saved for another dataset or split?');
  if (!Number.isSafeInteger(c.shuffleSeed)) throw bad('shuffleSeed must be a safe integer');
}

/**
 * Hands out row indices batch by batch. A batch never spans two epochs (the last batch of an epoch
 * may be short), so "epoch N finished" is a clean boundary for evaluation and checkpoints.
 */
export class DataOrder {
  private order: Uint32Array;
  private state: DataCursor;

  constructor(
    readonly size: number,
    start: DataCursor | { shuffleSeed: number },
    private readonly options: DataOrderOptions = {},
  ) {
    if (size <= 0) throw new RangeError('cannot iterate an empty dataset: the split and max_rows selected no rows');
    this.state = 'epoch' in start ? { ...start } : { epoch: 0, rowsConsumed: 0, shuffleSeed: start.shuffleSeed };
    validateCursor(this.state, size);
    this.order = epochOrder(size, this.state.shuffleSeed, this.state.epoch, options.shuffle ?? true);
  }

  /** A copy of the current position, to save with a checkpoint. */
  get cursor(): DataCursor {
    return { ...this.state };
  }

  /** Row indices of the next batch (up to batchSize, fewer at the end of an epoch). */
  nextBatch(batchSize: number): number[] {
    if (!Number.isInteger(batchSize) || batchSize <= 0) throw new RangeError(`batch size must be a positive integer, got ${batchSize}`);
    if (this.state.rowsConsumed >= this.size) this.startEpoch(this.state.epoch + 1);
    const from = this.state.rowsConsumed;
    const to = Math.min(this.size, from + batchSize);
    this.state.rowsConsumed = to;
    return Array.from(this.order.subarray(from, to));
  }

  /** The indices not yet handed out in the current epoch. */
  remainingInEpoch(): number[] {
    return Array.from(this.order.subarray(this.state.rowsConsumed));
  }

  private startEpoch(epoch: number): void {
    this.state = { epoch, rowsConsumed: 0, shuffleSeed: this.state.shuffleSeed };
    this.order = epochOrder(this.size, this.state.shuffleSeed, epoch, this.options.shuffle ?? true);
  }
}
