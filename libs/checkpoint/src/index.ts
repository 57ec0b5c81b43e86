export { CheckpointError, type CheckpointStatus } from './errors.js';
export { readSafetensors, writeSafetensors, readHeader, encodeTensor, type StDtype, type StTensor, type StHeaderEntry } from './safetensors.js';
export { loadHfDir, saveHfDir, sha256File, type HfModelFiles, type SaveHfOptions } from './hf-dir.js';
