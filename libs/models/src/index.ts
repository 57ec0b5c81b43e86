export { ModelLoadError, type StatusName } from './errors.js';
export { readHfModelInfo } from './hf-model-info.js';
export { configFromHf, configToHf, parameterShapes, rewardParameterShapes, parameterCount, embeddingNames, type ModelConfig, type Architecture } from './config.js';
export { initParameters, gaussian } from './init.js';
export { lastTokenRows, linear, rmsNorm, swiGlu, rotaryTables, applyRotary, positionsFromMask, causalPaddingBias } from './layers.js';
export { buildCausalLm, buildRewardModel, llamaBackbone, backbone, groupedAttention, weightInputs, type Attend, type CausalLm, type CausalLmGraphOptions, type FloatType } from './llama/graph.js';
export { buildGenerationGraphs, type GenerationGraphs } from './llama/decode.js';
export { neoxBackbone } from './neox/backbone.js';
