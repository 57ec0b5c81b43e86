// Messages between WorkerEngine (the service's event-loop thread) and engine-worker.ts (the thread that
// owns the sessions, the weights and the KV cache, so no step blocks the service or copies weights).
import type { SessionOptions } from '../session.js';
import type { SamplingOptions } from '../sampling/sampler.js';
import type { EngineLora, EngineOptions, EngineResult } from './batch-engine.js';
import type { DecoderSpec } from './decoder.js';

export interface WeightSetWire {
  label: string;
  tensors: Record<string, { data: Float32Array; dims: number[] }>;
  /** Adapters of the set (multi-LoRA graphs). */
  lora?: EngineLora;
  /**
   * Only some tensors are sent (an adapter push): the rest are the worker's latest set's, so the base
   * weights are not copied to the worker again.
   */
  partial?: boolean;
}

export interface EngineWorkerInit {
  prefill: Uint8Array;
  decode: Uint8Array;
  spec: DecoderSpec;
  engine: EngineOptions;
  session: SessionOptions;
  weights: WeightSetWire;
}

export interface RequestWire {
  promptIds: number[];
  maxNewTokens: number;
  minNewTokens?: number;
  eosTokenIds: number[];
  stopTokenIds?: number[];
  sampling?: SamplingOptions;
  seed?: bigint;
  adapter?: string;
}

export type ToEngine =
  | { kind: 'submit'; id: number; req: RequestWire }
  | { kind: 'stop'; id: number; reason: 'stop' | 'cancelled' }
  | { kind: 'weights'; weights: WeightSetWire }
  | { kind: 'close' };

export type FromEngine =
  | { kind: 'ready' }
  | { kind: 'init-error'; message: string }
  | { kind: 'token'; id: number; token: number; logprob: number; top?: { ids: number[]; logprobs: number[] } }
  | { kind: 'done'; id: number; result: EngineResult }
  | { kind: 'error'; id: number; message: string; grpcCode?: string }
  | { kind: 'stats'; queueDepth: number; activeRows: number; steps: number }
  /** The worker holds a 'weights' message's tensors in its own memory (answers every 'weights', in order). */
  | { kind: 'weights-taken' };
