export { logSigmoid } from './objectives/log-sigmoid.js';
export { pairwiseLoss, type PairLossKind, type PairwiseOptions, type PairwiseOutputs } from './objectives/pairwise.js';
export { bradleyTerryLoss } from './objectives/bradley-terry.js';
export { policyGradientLoss, type PolicyMethod, type PolicyGradientOptions, type PolicyInputs } from './objectives/policy-gradient.js';
export { rlooAdvantages, whiten, gae, klShapedRewards, RunningMoments, AdaptiveKlController } from './advantages.js';
export { TrainStep, EvalStep, type TrainStepOptions, type StepResult } from './engine/train-step.js';
export { runSft, type SftOptions, type SftResult } from './loops/sft.js';
export { runPairwise, pairwiseGraph, type PairExample, type PairwiseOptions as PairwiseLoopOptions } from './loops/pairwise.js';
export { type LoopPosition } from './loops/sft.js';
