// What the trainer hands to a push and what it gets back. The push itself is PoolWeights.push
// (pool-sync.ts), the one client-side push every caller uses (a single role is a pool of one, see
// oneReplica): the callers give named tensors and a label, never chunks or version numbers.
import type { WeightPushHeader } from '@juice/proto';
import type { PushTensor } from './chunk.js';

/** Named float32 tensors, as the optimizer's ParamSet views them (no copy) and the engine receives them. */
export type NamedTensors = ReadonlyMap<string, PushTensor>;

/** What a ParamSet offers (structurally; @juice/optim's ParamSet has it). */
export interface TensorViews {
  entry(name: string): { shape: readonly number[] };
  view(name: string): Float32Array;
}

/** The named tensors of a ParamSet: views of its flat buffer, nothing copied (the push copies what it keeps). */
export const namedTensors = (params: TensorViews, names: readonly string[]): NamedTensors => new Map(names.map((n) => [n, { shape: params.entry(n).shape, data: params.view(n) }]));

export interface PushOptions {
  /** WeightVersion.label, e.g. "<job>/stage2". */
  label: string;
  /** A LoRA adapter push: these header fields mark it (lora_adapter_only, adapter_name, lora); it is sent whole and served at once. */
  header?: Partial<Pick<WeightPushHeader, 'loraAdapterOnly' | 'adapterName' | 'lora'>>;
}

/** Where a push goes: a pool (PoolWeights.target) or anything that pushes with the same options. */
export interface PushTarget {
  push(tensors: NamedTensors, o: PushOptions): Promise<PushResult>;
}

export interface PushResult {
  /** The version now served. */
  version: bigint;
  /** Data bytes sent in all (one copy per replica). */
  bytes: bigint;
  seconds: number;
  /** Replicas now serving the version. */
  replicas: number;
}

/** Pushes `tensors` as the target's next version. */
export const pushNextVersion = (target: PushTarget, tensors: NamedTensors, o: PushOptions): Promise<PushResult> => target.push(tensors, o);
