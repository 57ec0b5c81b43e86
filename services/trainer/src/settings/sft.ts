// An SFT job's settings with every proto default filled in (TrainingHyperparameters, SftConfig).
import type { SftLossReduction } from '@juice/algorithms';
import { LossReduction, type JobSpec } from '@juice/proto';
import { commonSettings, lrSettings, rowsPerStep, type CommonSettings, type ScheduleSettings } from './common.js';

export interface SftSettings extends CommonSettings, ScheduleSettings {
  learningRate: number;
  /** Optimizer steps of the job (max_steps, else epochs over the data). */
  totalSteps: number;
  lossReduction: SftLossReduction;
  trainOnPrompt: boolean;
}

export function resolveSft(spec: JobSpec, o: { rows: number }): SftSettings {
  const h = spec.hyperparameters;
  const c = spec.algorithmConfig.case === 'sft' ? spec.algorithmConfig.value : undefined;
  const common = commonSettings(spec);
  const totalSteps = common.maxSteps > 0 ? common.maxSteps : Math.ceil(o.rows / rowsPerStep(h)) * common.epochs;
  return {
    ...common,
    ...lrSettings(h, 2e-5, totalSteps),
    totalSteps,
    lossReduction: c?.lossReduction === LossReduction.SEQUENCE_SUM ? 'sequence_sum' : 'token_mean',
    trainOnPrompt: c?.trainOnPrompt ?? false,
  };
}
