// @juice/inference: a causal LM served from worker threads — sampling one completion through the
// KV-cache engine with stop strings, and teacher-forced scoring with lm-eval's tokenization.
export { InputError } from './errors.js';
export { modelWeights, scorerAdapterFeeds, startLmWorkers, weightFeeds, weightWire, withStacks, type LmModel, type LmWorkerOptions, type ServedLm, type WeightMap } from './served-lm.js';
export { promptTokenIds } from './prompts.js';
export { resolveSampling, type ResolvedSampling } from './sampling.js';
export { runSample, seedOf, type Piece, type SampleOutput } from './sample.js';
export { scorePrompts, type PromptScoring } from './prompt-logprobs.js';
export { encodePair, scoreCompletions, type ScoredItem } from './score.js';
