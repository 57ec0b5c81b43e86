// What a serving role holds: the active weights every new request captures, and at most one staged
// version (two-phase pushes). Requests keep a reference to the weights they started with, so a swap
// never changes tensors under a running batch; the old arrays are freed when the last one finishes.
import { WeightPushError } from './errors.js';

export interface WeightSet<W> {
  number: bigint;
  label: string;
  activatedAt?: Date;
  weights: W;
}

export class VersionedWeights<W> {
  private activeSet: WeightSet<W>;
  private stagedSet: WeightSet<W> | undefined;
  private pushing = false;

  constructor(initial: W, label = 'initial') {
    this.activeSet = { number: 0n, label, activatedAt: new Date(), weights: initial };
  }

  get active(): WeightSet<W> {
    return this.activeSet;
  }

  get staged(): WeightSet<W> | undefined {
    return this.stagedSet;
  }

  heldVersions(): bigint[] {
    return this.stagedSet ? [this.activeSet.number, this.stagedSet.number] : [this.activeSet.number];
  }

  /** Weights of a held version (base of a delta push). */
  weightsOf(version: bigint): W | undefined {
    if (this.activeSet.number === version) return this.activeSet.weights;
    if (this.stagedSet?.number === version) return this.stagedSet.weights;
    return undefined;
  }

  /** One push at a time: a second concurrent push is ABORTED (the contract's answer). */
  async exclusivePush<T>(work: () => Promise<T>): Promise<T> {
    if (this.pushing) throw new WeightPushError('ABORTED', 'another weight push is in progress; retry after it completes');
    this.pushing = true;
    try {
      return await work();
    } finally {
      this.pushing = false;
    }
  }

  install(set: Omit<WeightSet<W>, 'activatedAt'>, stageOnly: boolean): WeightSet<W> {
    if (stageOnly) {
      this.stagedSet = { ...set };
      return this.stagedSet;
    }
    this.stagedSet = undefined;
    this.activeSet = { ...set, activatedAt: new Date() };
    return this.activeSet;
  }

  /** Serves a staged version; activating the active version is a no-op. */
  activate(version: bigint): { active: WeightSet<W>; previous: WeightSet<W> } {
    const previous = this.activeSet;
    if (previous.number === version) return { active: previous, previous };
    if (this.stagedSet?.number !== version) throw new WeightPushError('NOT_FOUND', `version ${version} is not staged (staged: ${this.stagedSet?.number ?? 'none'})`);
    this.activeSet = { ...this.stagedSet, activatedAt: new Date() };
    this.stagedSet = undefined;
    return { active: this.activeSet, previous };
  }
}
