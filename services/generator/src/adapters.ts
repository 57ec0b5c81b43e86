// The named LoRA adapters a generator holds next to its base weights (started with --max-adapters). They
// are applied in the generation graphs as stacked branches with a per-row mask (@juice/models
// withStackedLora), so requests for different adapters share one continuous batch; the base weights
// are never re-sent to the engine when an adapter comes or goes.
import { loraParameterShapes, loraTargets, stackAdapters, type HeldAdapter, type LoraSpec, type ModelConfig } from '@juice/models';
import { StatusError } from '@juice/proto/status-error';
import type { LoraConfig } from '@juice/proto';
import type { EngineLora } from '@juice/runtime';

/** Adapter names: what a request or a push may name (echoed in errors and ModelInfo). */
const NAME = /^[A-Za-z0-9._-]{1,64}$/;
export const DEFAULT_ADAPTER = 'default';

export interface AdapterRecord extends HeldAdapter {
  version: bigint;
  bytes: number;
}

/** LoraConfig (proto) → LoraSpec, with the proto's defaults (alpha 0 = rank). */
export function specOf(l: LoraConfig): LoraSpec {
  return { rank: l.rank, alpha: l.alpha === 0 ? l.rank : l.alpha, dropout: l.dropout, targetModules: [...l.targetModules], useRslora: l.useRslora };
}

export function checkAdapterName(name: string, field: string): string {
  const n = name || DEFAULT_ADAPTER;
  if (!NAME.test(n)) throw new StatusError('INVALID_ARGUMENT', `${field}: must be 1..64 characters of [A-Za-z0-9._-]`, { retryable: false });
  return n;
}

export class AdapterSet {
  private readonly held = new Map<string, AdapterRecord>();
  constructor(
    private readonly config: ModelConfig,
    readonly max: number,
  ) {}

  get list(): AdapterRecord[] {
    return [...this.held.values()];
  }

  has(name: string): boolean {
    return this.held.has(name);
  }

  /** The PEFT tensors (name → shape) a push of `spec` must send; LoraSpecError for targets this model lacks. */
  expected(spec: LoraSpec): Map<string, readonly number[]> {
    try {
      loraTargets(this.config, spec);
    } catch (e) {
      throw new StatusError('INVALID_ARGUMENT', `header.${(e as Error).message}`, { retryable: false });
    }
    return new Map(loraParameterShapes(this.config, spec).map((p) => [p.name, p.shape]));
  }

  /** Checks there is room for `name` (a new name beyond --max-adapters is RESOURCE_EXHAUSTED). */
  checkRoom(name: string): void {
    if (!this.held.has(name) && this.held.size >= this.max) {
      throw new StatusError('RESOURCE_EXHAUSTED', `this generator holds ${this.max} adapters (--max-adapters); remove one with RemoveAdapter first`, { retryable: false });
    }
  }

  put(name: string, spec: LoraSpec, tensors: Map<string, Float32Array>, version: bigint): void {
    this.held.set(name, { name, spec, tensors, version, bytes: [...tensors.values()].reduce((a, t) => a + t.byteLength, 0) });
  }

  remove(name: string): void {
    if (!this.held.delete(name)) throw new StatusError('NOT_FOUND', `adapter ${JSON.stringify(name.slice(0, 64))} is not held here`, { retryable: false });
  }

  /** The engine's view: stacked tensors and each adapter's columns. */
  stacks(): { lora: EngineLora; stacks: Map<string, { data: Float32Array; dims: number[] }> } {
    const s = stackAdapters(this.config, this.list);
    return { lora: { columns: s.columns, ranges: Object.fromEntries(s.ranges) }, stacks: s.tensors };
  }
}
