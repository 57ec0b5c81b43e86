export { Rng, sampleSeed } from './rng.js';
export { sampleToken, isGreedy, TokenHistory, DEFAULT_SAMPLING, type SamplingOptions, type SampledToken } from './sampler.js';
export { StopStringMatcher, type StopMatch } from './stop.js';
