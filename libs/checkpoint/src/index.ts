export { CheckpointError, type CheckpointStatus } from './errors.js';
export {
  f32ToF16Bits,
  f16BitsToF32,
  f32ToBf16Bits,
  bf16BitsToF32,
  float32ToFloat16Array,
  float16ToFloat32Array,
  float32ToBfloat16Array,
  bfloat16ToFloat32Array,
} from './half-float.js';
export {
  SafetensorsFile,
  readSafetensors,
  writeSafetensors,
  readHeader,
  encodeTensor,
  ST_DTYPE_BYTES,
  type StDtype,
  type StData,
  type StTensor,
  type StTensorInput,
  type StHeader,
  type StHeaderEntry,
} from './safetensors.js';
export { sha256File, sha256Bytes } from './file-hash.js';
export {
  loadHfDir,
  saveHfDir,
  HF_CONFIG,
  HF_WEIGHTS,
  HF_INDEX,
  HF_SIDE_FILES,
  type HfModelFiles,
  type HfFileRecord,
  type LoadHfOptions,
  type SaveHfOptions,
  type HfSaveDtype,
} from './hf-dir.js';
export { Tokenizer, type ChatMessage, type TokenizerSources, type StreamingDetokenizer } from './tokenizer.js';
export { IncrementalDetokenizer } from './incremental-detokenizer.js';
export { resolveSpecialTokens, withSpecialTokens, encodeRenderedPrompt, encodeTextPrompt, encodeChatPrompt, encodeCompletion, endWithEos, type SpecialTokenPolicy, type PolicyTokenizer, type PromptKind } from './special-tokens.js';
export { trainByteLevelBpe, bytesToUnicode, GPT2_SPLIT, type BpeModel, type TrainOptions } from './bpe-trainer.js';
export { createDefaultTokenizerFiles, DEFAULT_CHAT_TEMPLATE, DEFAULT_SPECIAL_TOKENS, type DefaultTokenizerFiles } from './default-tokenizer.js';
export { CheckpointStore, MANIFEST, type Manifest, type ManifestFile, type LoadedCheckpoint } from './store.js';
