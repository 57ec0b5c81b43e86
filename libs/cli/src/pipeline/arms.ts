// The job specs of the main job's arms. SFT starts from the embedded default model (or the user's);
// IRFT, RFT and the control all start from the same SFT checkpoint. The control is the fair baseline:
// plain SFT for exactly as many extra optimizer steps as IRFT takes, over the same demonstrations, so a
// gain of IRFT is not just "more training".
import type { MessageInitShape } from '@bufbuild/protobuf';
import { Algorithm, DataSchema, LrSchedule, PolicyGradientMethod, type JobSpecSchema } from '@juice/proto';
import { irftSteps, type RunPlan } from './plan.js';

type Spec = MessageInitShape<typeof JobSpecSchema>;

export interface ArmInputs {
  plan: RunPlan;
  train: string;
  /** juice.v1.DataSchema of the training file: 1 CHAT, 2 PROMPT_COMPLETION. */
  schema: 1 | 2;
  /** The user's model directory for SFT; unset = the embedded default. */
  baseModel?: string;
}

const dataset = (path: string, schema: 1 | 2) => [{ path, schema: schema === 2 ? DataSchema.PROMPT_COMPLETION : DataSchema.CHAT, format: path.endsWith('.parquet') ? 2 : 1 }];
const hfDir = (dir: string) => ({ kind: { case: 'hfDir' as const, value: dir } });

export function sftSpec({ plan, train, schema, baseModel }: ArmInputs): Spec {
  return {
    algorithm: Algorithm.SFT,
    model: baseModel ? hfDir(baseModel) : undefined,
    datasets: dataset(train, schema),
    labels: { pipeline: 'juice-run', arm: 'sft' },
    hyperparameters: {
      maxSteps: BigInt(plan.sft.steps),
      batchSize: plan.sft.batchSize,
      learningRate: plan.sft.learningRate,
      lrSchedule: plan.sft.cosine ? LrSchedule.COSINE : LrSchedule.CONSTANT,
      warmupSteps: plan.sft.warmupSteps,
      seed: BigInt(plan.seed),
    },
  };
}

export function irftSpec({ plan, train, schema }: ArmInputs, sftCheckpoint: string, generator: string): Spec {
  const ir = plan.irft;
  return {
    algorithm: Algorithm.IRFT,
    model: hfDir(sftCheckpoint),
    datasets: dataset(train, schema),
    labels: { pipeline: 'juice-run', arm: 'irft' },
    hyperparameters: { batchSize: ir.batchSize, learningRate: ir.learningRate, lrSchedule: LrSchedule.CONSTANT, seed: BigInt(plan.seed) },
    algorithmConfig: {
      case: 'irft',
      value: {
        beta: ir.beta,
        stages: ir.stages,
        stepsPerStage: BigInt(ir.stepsPerStage),
        // Greedy negatives, as the research code regenerates them.
        generation: { temperature: 0, maxNewTokens: ir.maxNewTokens },
        sftLossCoefficient: ir.sftLossCoefficient,
      },
    },
    endpoints: { generator: [generator] },
  };
}

export function controlSpec({ plan, train, schema }: ArmInputs, sftCheckpoint: string): Spec {
  return {
    algorithm: Algorithm.SFT,
    model: hfDir(sftCheckpoint),
    datasets: dataset(train, schema),
    labels: { pipeline: 'juice-run', arm: 'control' },
    // Same batch of demonstrations per step as IRFT (each IRFT pair holds one demonstration).
    hyperparameters: { maxSteps: BigInt(irftSteps(plan)), batchSize: plan.irft.batchSize, learningRate: plan.control.learningRate, seed: BigInt(plan.seed) + 1n },
  };
}

export function rftSpec({ plan, train, schema }: ArmInputs, sftCheckpoint: string, generator: string, rewardModel: string): Spec {
  const r = plan.rft;
  return {
    algorithm: Algorithm.RFT,
    model: hfDir(sftCheckpoint),
    datasets: dataset(train, schema),
    labels: { pipeline: 'juice-run', arm: 'rft' },
    hyperparameters: { batchSize: plan.irft.batchSize, learningRate: r.learningRate, seed: BigInt(plan.seed) },
    algorithmConfig: {
      case: 'rft',
      value: {
        // Critic-free RLOO: no value head to warm up in a run this short.
        method: PolicyGradientMethod.RLOO,
        rounds: r.rounds,
        promptsPerRound: r.promptsPerRound,
        samplesPerPrompt: r.samplesPerPrompt,
        generation: { temperature: 1, maxNewTokens: r.maxNewTokens },
        rewardUpdate: { learningRate: r.rewardLearningRate },
      },
    },
    endpoints: { generator: [generator], rewardModel: [rewardModel] },
  };
}
