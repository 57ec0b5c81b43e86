export { WeightPushError, type PushStatus } from './errors.js';
export { weightChunks, type PushTensor, type ChunkOptions } from './chunk.js';
export { receiveWeights, applyDelta, type ReceiveOptions, type ReceivedWeights } from './receive.js';
export { VersionedWeights, type WeightSet } from './versions.js';
export { bytesPerElement, encodeFloats, decodeFloatsInto, FLOAT_WIRE_DTYPES, type FloatWireDtype } from './dtype-bytes.js';
export { acceptWeightPush, type TensorMap } from './accept.js';
export { assertFinite, firstNonFinite } from './finite.js';
export { PoolWeights, type WeightTarget, type WeightReplicaSet, type PoolPushResult, type PoolWeightsOptions } from './pool-sync.js';
export { pushNextVersion, type PushTarget, type NamedTensors, type PushResult } from './push.js';
