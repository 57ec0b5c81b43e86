// An IRFT/SPIN job's settings with every proto default filled in (TrainingHyperparameters, IrftConfig).
// The LR schedule spans the whole job's planned steps (stages × steps_per_stage), as trainer.proto says
// of TrainingHyperparameters for IRFT/SPIN: stage s continues the schedule where stage s−1 left it, and
// a job cut short by max_steps is a prefix of the uncapped one.
import type { PairLossKind } from '@juice/algorithms';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { Algorithm, ReferencePolicy, type JobSpec, type SamplingParamsSchema } from '@juice/proto';
import { badSpec } from '../runners/job-error.js';
import { commonSettings, lrSettings, pairLossOf, rowsPerStep, type CommonSettings, type ScheduleSettings } from './common.js';

export interface IrftSettings extends CommonSettings, ScheduleSettings {
  algorithm: 'IRFT' | 'SPIN';
  learningRate: number;
  beta: number;
  loss: PairLossKind;
  /** π_ref: the job's initial model for every stage, or each stage's starting policy. */
  reference: 'initial' | 'stage_start';
  stages: number;
  /** Demonstrations per stage. */
  perStage: number;
  /** k: samples (negatives) per demonstration. */
  samplesPerPrompt: number;
  generationBatchSize: number;
  sftCoefficient: number;
  stepsPerStage: number;
  /** stages × stepsPerStage: what the LR schedule spans. */
  plannedSteps: number;
  /** The job's optimizer steps: plannedSteps capped by max_steps. */
  totalSteps: number;
  /** Regeneration decoding: greedy (temperature 0) unless set; max_new_tokens 0 = what the longest prompt leaves of max_length. */
  sampling: MessageInitShape<typeof SamplingParamsSchema> & { maxNewTokens: number };
}

export function resolveIrft(spec: JobSpec, o: { rows: number; maxLength: number; longestPrompt: number }): IrftSettings {
  const h = spec.hyperparameters;
  const c = spec.algorithmConfig.case === 'irft' ? spec.algorithmConfig.value : undefined;
  const common = commonSettings(spec);
  const stages = spec.algorithm === Algorithm.SPIN ? 1 : c?.stages || 5;
  const perStage = Math.ceil(o.rows / stages);
  const k = c?.samplesPerPrompt || 1;
  if (k > 64) throw badSpec('spec.irft.samples_per_prompt', `must be in 1..64 (0 = 1), got ${k}`);
  const generationBatchSize = c?.generationBatchSize || 64;
  if (generationBatchSize > 1024) throw badSpec('spec.irft.generation_batch_size', `must be in 1..1024 (Generate's prompt limit; 0 = 64), got ${generationBatchSize}`);
  const sftCoefficient = c?.sftLossCoefficient ?? 0;
  if (!(sftCoefficient >= 0 && Number.isFinite(sftCoefficient))) throw badSpec('spec.irft.sft_loss_coefficient', `must be a finite number >= 0, got ${sftCoefficient}`);
  // An epoch over a stage's part is over its pairs: each demonstration once with each of its k samples.
  const stepsPerStage = Number(c?.stepsPerStage ?? 0n) || Math.ceil((perStage * k) / rowsPerStep(h)) * (c?.epochsPerStage || 1);
  const plannedSteps = stages * stepsPerStage;
  // max_steps counts the whole job's optimizer steps; the stage it falls in stops there.
  const totalSteps = common.maxSteps > 0 ? Math.min(common.maxSteps, plannedSteps) : plannedSteps;
  const maxNewTokens = c?.generation?.maxNewTokens || Math.max(1, o.maxLength - o.longestPrompt);
  return {
    ...common,
    ...lrSettings(h, 5e-7, plannedSteps),
    algorithm: spec.algorithm === Algorithm.SPIN ? 'SPIN' : 'IRFT',
    beta: c?.beta || 0.1,
    loss: pairLossOf(c?.loss),
    reference: c?.reference === ReferencePolicy.INITIAL ? 'initial' : 'stage_start',
    stages,
    perStage,
    samplesPerPrompt: k,
    generationBatchSize,
    sftCoefficient,
    stepsPerStage,
    plannedSteps,
    totalSteps,
    sampling: { ...(c?.generation ?? { temperature: 0 }), maxNewTokens },
  };
}
