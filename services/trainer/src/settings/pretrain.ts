// A PRETRAIN job's settings with every proto default filled in (TrainingHyperparameters; PRETRAIN has no
// algorithm config). The rows are the packed max_length windows (libs/data pack-text.ts), so epochs and
// batch_size count windows. Learning rate 0 = 3e-4: a base trained from its random initialisation needs a
// far larger step than SFT's 2e-5 fine-tuning default (GPT-style small-model pretraining values).
import type { JobSpec } from '@juice/proto';
import { commonSettings, lrSettings, rowsPerStep } from './common.js';
import type { SftSettings } from './sft.js';

export const PRETRAIN_DEFAULT_LEARNING_RATE = 3e-4;

/** The SFT loop's settings for next-token loss over every token: token mean, no prompt to leave out. */
export function resolvePretrain(spec: JobSpec, o: { windows: number }): SftSettings {
  const h = spec.hyperparameters;
  const common = commonSettings(spec);
  const totalSteps = common.maxSteps > 0 ? common.maxSteps : Math.ceil(o.windows / rowsPerStep(h)) * common.epochs;
  return { ...common, ...lrSettings(h, PRETRAIN_DEFAULT_LEARNING_RATE, totalSteps), totalSteps, lossReduction: 'token_mean', trainOnPrompt: false };
}
