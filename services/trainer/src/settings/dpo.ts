// A DPO job's settings with every proto default filled in (TrainingHyperparameters, DpoConfig).
import type { PairLossKind } from '@juice/algorithms';
import type { JobSpec } from '@juice/proto';
import { commonSettings, lrSettings, pairLossOf, rowsPerStep, type CommonSettings, type ScheduleSettings } from './common.js';

export interface DpoSettings extends CommonSettings, ScheduleSettings {
  learningRate: number;
  totalSteps: number;
  /** β (0 = 0.1). */
  beta: number;
  loss: PairLossKind;
}

export function resolveDpo(spec: JobSpec, o: { rows: number }): DpoSettings {
  const h = spec.hyperparameters;
  const c = spec.algorithmConfig.case === 'dpo' ? spec.algorithmConfig.value : undefined;
  const common = commonSettings(spec);
  const totalSteps = common.maxSteps || Math.ceil(o.rows / rowsPerStep(h)) * common.epochs;
  return { ...common, ...lrSettings(h, 5e-7, totalSteps), totalSteps, beta: c?.beta || 0.1, loss: pairLossOf(c?.loss) };
}
