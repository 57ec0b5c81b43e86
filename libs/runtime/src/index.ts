export { createSession, readModel, Session, toOrtOptions } from './session.js';
export type { LogSeverity, OptimizationLevel, RunOutputs, Runner, SessionOptions, ValueInfo, PreallocatedOutputs } from './session.js';
export { WorkerSession } from './worker-session.js';
export type { WorkerRunOptions } from './worker-session.js';
export { tensor, toOrtTensor, tensorTypesOf } from './tensor.js';
export type { FeedValue, Feeds, InputSpec, TensorLike, TensorType, TypedArrayData } from './tensor.js';
export {
  assertExecutionProvider,
  availableExecutionProviders,
  executionProviders,
  ExecutionProviderUnavailableError,
} from './providers.js';
export type { ExecutionProviderName, ProviderAvailability } from './providers.js';
export { measureMatmulPeak } from './matmul-peak.js';
export type { MatmulPeakOptions, MatmulPeakResult } from './matmul-peak.js';
export { matmulModel } from './matmul-model.js';
export * from './sampling/index.js';
export { KvCache, type KvShape } from './generation/kv-cache.js';
export { Decoder, type DecoderSpec, type GenerateOptions, type GeneratedRow, type FinishReason } from './generation/decoder.js';
export { BatchEngine, QueueFullError, type EngineRequest, type EngineResult, type EngineOptions, type EngineLora, type EngineWeights } from './generation/batch-engine.js';
export { WorkerEngine } from './generation/worker-engine.js';
export type { WeightSetWire } from './generation/engine-protocol.js';
