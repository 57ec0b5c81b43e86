// The embedded default model: a tiny Llama-style config that juice creates itself (weights initialised
// here, tokenizer trained on the given corpus), small enough to train from scratch on 2 CPU cores in
// minutes. Written in Hugging Face layout, so it loads like any user model.
import { createDefaultTokenizerFiles, saveHfDir } from '@juice/checkpoint';
import { configToHf, type ModelConfig } from './config.js';
import { initParameters } from './init.js';

export const DEFAULT_MODEL_NAME = 'juice-tiny';

/** 0.8 M parameters: 4 layers, D 128, GQA 4/2 heads, tied embeddings, vocab 512, context 128. */
export const DEFAULT_MODEL_CONFIG: ModelConfig = {
  architecture: 'llama',
  vocabSize: 512,
  hiddenSize: 128,
  intermediateSize: 352,
  numLayers: 4,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 32,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  maxPositions: 128,
  tieWordEmbeddings: true,
  qkvBias: false,
  padTokenId: 0,
  bosTokenId: 1,
  eosTokenId: 2,
};

export interface CreateDefaultModelOptions {
  /** Text the tokenizer is trained on (the demonstrations it will see). */
  corpus: Iterable<string>;
  seed?: number;
  config?: ModelConfig;
}

/** Writes config.json, model.safetensors and tokenizer files of a freshly initialised default model. */
export function createDefaultModel(dir: string, o: CreateDefaultModelOptions): string[] {
  const config = o.config ?? DEFAULT_MODEL_CONFIG;
  const tokenizerFiles = createDefaultTokenizerFiles(o.corpus, config.vocabSize);
  const params = initParameters(config, o.seed ?? 0);
  return saveHfDir(dir, {
    config: configToHf(config, { _name_or_path: DEFAULT_MODEL_NAME }),
    tensors: params.entries.map((e) => [e.name, { shape: e.shape, data: params.view(e.name) }] as [string, { shape: readonly number[]; data: Float32Array }]),
    extraFiles: tokenizerFiles,
  });
}
