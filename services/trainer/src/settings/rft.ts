// An RFT job's settings with every proto default filled in (trainer.proto RftConfig, RewardUpdateConfig),
// checked against the data and model so a bad combination fails before any generation.
import type { RewardNormalizationMode, RftMethod } from '@juice/algorithms';
import { clone, create } from '@bufbuild/protobuf';
import { KlControl, PolicyGradientMethod, RewardNormalization, SamplingParamsSchema, type JobSpec, type SamplingParams } from '@juice/proto';
import { badSpec } from '../runners/job-error.js';
import { commonSettings, type CommonSettings } from './common.js';

const METHODS: Record<number, RftMethod> = {
  [PolicyGradientMethod.APA]: 'apa',
  [PolicyGradientMethod.PPO_CLIP]: 'ppo_clip',
  [PolicyGradientMethod.RLOO]: 'rloo',
  [PolicyGradientMethod.REINFORCE]: 'reinforce',
};
const NORMALIZATIONS: Record<number, RewardNormalizationMode> = {
  [RewardNormalization.NONE]: 'none',
  [RewardNormalization.RUNNING_STD]: 'running_std',
  [RewardNormalization.RUNNING_MEAN_STD]: 'running_mean_std',
};

export interface RftSettings extends CommonSettings {
  method: RftMethod;
  rounds: number;
  promptsPerRound: number;
  samplesPerPrompt: number;
  policyEpochs: number;
  generation: SamplingParams;
  klCoef: number;
  adaptiveKl?: { target: number; horizon: number };
  whitenAdvantages: boolean;
  apaLambda: number;
  gaeGamma: number;
  gaeLambda: number;
  ppoClip: number;
  valueLossCoefficient: number;
  valueClip: number;
  normalization: RewardNormalizationMode;
  rewardClip: number;
  missingEosPenalty: number;
  maxStaleness: number;
  reward: { learningRate: number; epochs: number; frozenLayers: number; batchSize: number; frozen: boolean };
  /** Policy step. */
  learningRate: number;
  /** Rollouts per micro-batch; an update takes batchSize × gradientAccumulationSteps. */
  batchSize: number;
  gradientAccumulationSteps: number;
}

export function rftSettings(spec: JobSpec, o: { rows: number; numLayers: number; maxNewTokens: number }): RftSettings {
  const r = spec.algorithmConfig.case === 'rft' ? spec.algorithmConfig.value : undefined;
  const h = spec.hyperparameters;
  const method = METHODS[r?.method ?? 0] ?? 'apa';
  const samplesPerPrompt = r?.samplesPerPrompt || (method === 'rloo' ? 4 : 1);
  if (method === 'rloo' && samplesPerPrompt < 2) throw badSpec('spec.rft.samples_per_prompt', `RLOO needs at least 2 samples per prompt (its baseline is the mean of the others), got ${samplesPerPrompt}`);
  if (samplesPerPrompt > 64) throw badSpec('spec.rft.samples_per_prompt', `must be in 1..64, got ${samplesPerPrompt}`);
  const promptsPerRound = Math.min(r?.promptsPerRound || 64, o.rows);
  const ru = r?.rewardUpdate;
  const frozenLayers = ru?.frozenLayers ?? 0;
  if (frozenLayers > o.numLayers) throw badSpec('spec.rft.reward_update.frozen_layers', `must be in 0..${o.numLayers} (the reward model's layers), got ${frozenLayers}`);
  const batchSize = h?.batchSize || 8;
  const accumulation = h?.gradientAccumulationSteps || 1;
  const generation = r?.generation ? clone(SamplingParamsSchema, r.generation) : create(SamplingParamsSchema);
  generation.maxNewTokens ||= o.maxNewTokens;
  // Rollouts are sampled (temperature 1) unless the job says otherwise: greedy would give k identical samples.
  if (generation.temperature === undefined) generation.temperature = 1;
  return {
    ...commonSettings(spec),
    method,
    // TrainingHyperparameters.epochs passes over the prompts (0 = 1).
    rounds: r?.rounds || Math.ceil((o.rows * (h?.epochs || 1)) / promptsPerRound),
    promptsPerRound,
    samplesPerPrompt,
    policyEpochs: r?.policyEpochs || 1,
    generation,
    klCoef: r?.klCoef ?? 0.05,
    adaptiveKl: r?.klControl === KlControl.ADAPTIVE ? { target: r.targetKl || 6, horizon: r.klHorizon || 10000 } : undefined,
    whitenAdvantages: r?.whitenAdvantages ?? true,
    apaLambda: r?.apaLambda || 0.1,
    gaeGamma: r?.gaeGamma ?? 1,
    gaeLambda: r?.gaeLambda ?? 0.95,
    ppoClip: r?.ppoClip || 0.2,
    valueLossCoefficient: r?.valueLossCoefficient || 0.5,
    valueClip: r?.valueClip ?? 0,
    normalization: NORMALIZATIONS[r?.rewardNormalization ?? 0] ?? 'running_std',
    rewardClip: r?.rewardClip ?? 0,
    missingEosPenalty: r?.missingEosPenalty ?? 0,
    maxStaleness: r?.maxStaleness ?? 0,
    reward: { learningRate: ru?.learningRate || 1e-6, epochs: ru?.epochs || 1, frozenLayers, batchSize: ru?.batchSize || batchSize, frozen: ru?.frozen ?? false },
    learningRate: h?.learningRate || 1e-6,
    batchSize,
    gradientAccumulationSteps: accumulation,
  };
}
