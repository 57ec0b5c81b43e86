// A REWARD_MODEL job's settings with every proto default filled in (TrainingHyperparameters, RewardModelConfig).
import type { JobSpec } from '@juice/proto';
import { badSpec } from '../runners/job-error.js';
import { commonSettings, lrSettings, rowsPerStep, type CommonSettings, type ScheduleSettings } from './common.js';

export interface RewardModelSettings extends CommonSettings, ScheduleSettings {
  learningRate: number;
  totalSteps: number;
  frozenLayers: number;
  centerCoefficient: number;
}

export function resolveRewardModel(spec: JobSpec, o: { rows: number; numLayers: number }): RewardModelSettings {
  const h = spec.hyperparameters;
  const c = spec.algorithmConfig.case === 'rewardModel' ? spec.algorithmConfig.value : undefined;
  const common = commonSettings(spec);
  const totalSteps = common.maxSteps || Math.ceil(o.rows / rowsPerStep(h)) * common.epochs;
  const frozenLayers = c?.frozenLayers ?? 0;
  if (frozenLayers > o.numLayers) throw badSpec('spec.reward_model.frozen_layers', `must be in 0..${o.numLayers} (the model's layers), got ${frozenLayers}`);
  return { ...common, ...lrSettings(h, 1e-5, totalSteps), totalSteps, frozenLayers, centerCoefficient: c?.centerRewardsCoefficient ?? 0 };
}
