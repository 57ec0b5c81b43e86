// What a serving role reports about the model it holds (GetModelInfo), from the loaded model.
import { create } from '@bufbuild/protobuf';
import { Dtype, ExecutionProvider, ModelInfoSchema, TokenizerInfoSchema, type ModelHead, type ModelInfo, type WeightVersion } from '@juice/proto';
import type { LoadedModel } from './load.js';

export function describeModel(model: LoadedModel, o: { head: ModelHead; parameterCount: number; weightVersion: WeightVersion }): ModelInfo {
  const c = model.config;
  const tok = model.tokenizer;
  return create(ModelInfoSchema, {
    architecture: c.architecture,
    modelName: model.name,
    modelPath: model.dir,
    weightVersion: o.weightVersion,
    parameterCount: BigInt(o.parameterCount),
    vocabSize: c.vocabSize,
    contextLength: c.maxPositions,
    dtype: Dtype.FLOAT32,
    executionProvider: ExecutionProvider.CPU,
    head: o.head,
    numLayers: c.numLayers,
    hiddenSize: c.hiddenSize,
    numAttentionHeads: c.numHeads,
    numKeyValueHeads: c.numKvHeads,
    modelSha256: model.sha256,
    tokenizer: create(TokenizerInfoSchema, {
      kind: tok.kind,
      vocabSize: tok.vocabSize,
      bosTokenId: tok.bosTokenId,
      eosTokenIds: tok.eosTokenIds,
      padTokenId: tok.padTokenId,
      // What text prompts actually get (the resolved post-processor prefix), not a config flag.
      addBosToken: tok.addBosToken,
      hasChatTemplate: tok.hasChatTemplate,
      chatTemplate: tok.chatTemplate,
    }),
  });
}
