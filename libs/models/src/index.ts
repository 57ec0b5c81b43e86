export { ModelLoadError, type StatusName } from './errors.js';
export { readHfModelInfo } from './hf-model-info.js';
