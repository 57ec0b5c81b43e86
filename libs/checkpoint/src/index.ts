export { CheckpointError, type CheckpointStatus } from './errors.js';
export { readSafetensors, writeSafetensors, readHeader, encodeTensor, type StDtype, type StTensor, type StHeaderEntry } from './safetensors.js';
export { loadHfDir, saveHfDir, sha256File, type HfModelFiles, type SaveHfOptions } from './hf-dir.js';
export { Tokenizer, type ChatMessage } from './tokenizer.js';
export { trainByteLevelBpe, bytesToUnicode, GPT2_SPLIT, type BpeModel, type TrainOptions } from './bpe-trainer.js';
export { createDefaultTokenizerFiles, DEFAULT_CHAT_TEMPLATE, DEFAULT_SPECIAL_TOKENS } from './default-tokenizer.js';
export { CheckpointStore, type Manifest, type ManifestFile } from './store.js';
