// Reward-model training (REWARD_MODEL jobs on preference pairs, and RFT's reward step on demonstration ≻
// own sample): the scalar-head backbone (buildRewardModel) under the Bradley-Terry loss, over 2B-row
// batches (first B preferred). Frozen tensors (embeddings + the lowest N layers) are fed but get no
// gradient and no weight decay. The trainer keeps one RewardModelTrainer for a whole job so its graphs
// are compiled once, and its AdamW moments carry over RFT's rounds.
import { buildRewardModel, embeddingNames, layerPrefix, type ModelConfig } from '@juice/models';
import { GraphBuilder } from '@juice/onnx';
import { createOptimizer, createSchedule, type FlatOptimizer, type OptimizerSettings, type OptimizerState, type ParamSet } from '@juice/optim';
import { collateBatch, collatePairBatch, DataOrder, type DataCursor, type TokenBatch } from '@juice/data';
import { EvalStep, TrainStep } from '../engine/train-step.js';
import { bradleyTerryLoss } from '../objectives/bradley-terry.js';
import type { PairExample } from './pairwise.js';
import { checkAccumulationSteps, microBatches } from './accumulate.js';
import { baseWeightFeeds, loraDropoutFeeds, type LoraTraining } from './lora.js';
import { runStepLoop, type LoopPosition, type OnStep } from './step-loop.js';

const METRICS = ['rm/chosen', 'rm/rejected', 'rm/margin', 'rm/accuracy'];

/**
 * The reward forward with Bradley-Terry on top: output `rm_loss` plus the rm/* metrics. With `lora` the
 * backbone's target Linears carry adapters (the score head trains alongside them, PEFT's SEQ_CLS
 * modules_to_save) and `forward` is the same model without dropout.
 */
export function rewardModelGraph(config: ModelConfig, centerCoefficient = 0, lora?: LoraTraining) {
  const rm = buildRewardModel(config, lora ? { lora: lora.spec, loraGraph: { train: true, dropoutInputs: true } } : {});
  const forward = lora ? buildRewardModel(config, { lora: lora.spec }).graph : rm.graph;
  const g = GraphBuilder.from(rm.graph);
  const out = bradleyTerryLoss(g, g.value('rewards'), centerCoefficient);
  g.output(out.loss, 'rm_loss');
  for (const [name, v] of Object.entries(out.metrics)) g.output(v, name);
  return { graph: g.build(), forward };
}

/** Tensors of a reward (or causal) model held fixed by `frozen_layers`: the token embeddings and layers 0..n−1. */
export function frozenLayerParameters(config: ModelConfig, names: readonly string[], frozenLayers: number): string[] {
  if (frozenLayers <= 0) return [];
  if (frozenLayers > config.numLayers) throw new RangeError(`frozen_layers ${frozenLayers} exceeds the model's ${config.numLayers} layers (use 0..${config.numLayers})`);
  const prefix = layerPrefix(config);
  const { embed } = embeddingNames(config);
  return names.filter((n) => {
    if (n === embed) return true;
    if (!n.startsWith(prefix)) return false;
    return Number(n.slice(prefix.length).split('.')[0]) < frozenLayers;
  });
}

export interface RewardModelTrainerOptions {
  config: ModelConfig;
  /** Reward weights (rewardParameterShapes), trained in place; with `lora` the adapters and the score head only. */
  params: ParamSet;
  /** LoRA: `params` train on the frozen `lora.base` (the reward weights; its score head is overridden by `params`'). */
  lora?: LoraTraining;
  padTokenId: number;
  learningRate: number;
  frozenLayers?: number;
  centerCoefficient?: number;
  weightDecay?: number;
  maxGradNorm?: number;
  betas?: [number, number];
  eps?: number;
  /** The optimizer (overrides weightDecay/betas/eps); default AdamW with those. */
  optimizer?: OptimizerSettings;
}

export interface RewardTrainOptions {
  pairs: readonly PairExample[];
  /** Pairs per micro-batch. */
  batchSize: number;
  /** Micro-batches per optimizer step (Bradley-Terry is a mean over pairs: exactly the big batch). Default 1. */
  gradientAccumulationSteps?: number;
  /** Final lr of linear/cosine as a fraction of the peak. Default 0. */
  minLrRatio?: number;
  /** Keep the pairs' order every epoch. Default false. */
  noShuffle?: boolean;
  steps: number;
  seed: number;
  schedule?: 'constant' | 'linear' | 'cosine';
  warmupSteps?: number;
  /** Peak LR of this call (default: the trainer's). */
  learningRate?: number;
  signal?: AbortSignal;
  onStep?: OnStep;
  /** Steps of this call already taken (resume of a REWARD_MODEL job); runs steps startStep+1..steps. Default 0. */
  startStep?: number;
  /** Data position after startStep steps (resume). */
  cursor?: DataCursor;
  /** Optimizer state after startStep steps (resume), loaded into the trainer's optimizer. */
  optimizerState?: OptimizerState;
  /** Awaited after every step (evaluate, checkpoint). */
  afterStep?: (at: LoopPosition) => Promise<void> | void;
}

export interface PairwiseRewardEval {
  /** Fraction of pairs with r(preferred) > r(other). */
  accuracy: number;
  /** Mean r(preferred) − r(other). */
  margin: number;
  /** Mean −log σ(margin). */
  loss: number;
}

const feedsOf = (b: TokenBatch) => ({ input_ids: { data: b.inputIds, dims: [b.batchSize, b.seqLen] }, attention_mask: { data: b.attentionMask, dims: [b.batchSize, b.seqLen] } });

export class RewardModelTrainer {
  readonly trainable: string[];
  readonly frozen: string[];
  private constructor(
    private readonly o: RewardModelTrainerOptions,
    private readonly train: TrainStep,
    private readonly scorer: EvalStep,
    readonly optimizer: FlatOptimizer,
    /** The frozen base's feeds under LoRA (first, so `params`' score head overrides the base's). */
    private readonly frozenFeeds: ReturnType<typeof baseWeightFeeds> = {},
  ) {
    this.frozen = frozenLayerParameters(o.config, o.params.names, o.frozenLayers ?? 0);
    this.trainable = o.params.names.filter((n) => !this.frozen.includes(n));
  }

  static async create(o: RewardModelTrainerOptions): Promise<RewardModelTrainer> {
    if (o.lora && (o.frozenLayers ?? 0) > 0) throw new RangeError('RewardModelTrainer: frozen_layers applies to full-parameter training; under LoRA the whole base is frozen');
    const frozen = new Set(frozenLayerParameters(o.config, o.params.names, o.frozenLayers ?? 0));
    const { graph, forward } = rewardModelGraph(o.config, o.centerCoefficient ?? 0, o.lora);
    const trainable = o.params.names.filter((n) => !frozen.has(n));
    const train = await TrainStep.create(graph, o.params, { loss: 'rm_loss', metrics: METRICS, trainable });
    const scorer = await EvalStep.create(forward, o.params, ['rewards']);
    // Frozen tensors get zero gradients; excluding them from decay keeps them exactly unchanged.
    const [beta1, beta2] = o.betas ?? [0.9, 0.999];
    const settings = o.optimizer ?? { kind: 'adamw', beta1, beta2, eps: o.eps ?? 1e-8, weightDecay: o.weightDecay ?? 0 };
    const optimizer = createOptimizer(o.params, o.learningRate, settings, (n) => frozen.has(n));
    return new RewardModelTrainer(o, train, scorer, optimizer, o.lora ? baseWeightFeeds(o.lora.base) : {});
  }

  /**
   * `steps` optimizer steps over shuffled batches of `pairs` (cycling); returns the first step's metrics
   * (measured before any update: how well the incoming weights separate these pairs), the last step's,
   * and the means over all steps.
   */
  async fit(t: RewardTrainOptions): Promise<{ first: Record<string, number>; last: Record<string, number>; mean: Record<string, number> }> {
    if (t.pairs.length === 0) throw new RangeError('reward training needs at least one pair');
    const order = new DataOrder(t.pairs.length, t.cursor ?? { shuffleSeed: t.seed }, { shuffle: !t.noShuffle });
    const accumulation = checkAccumulationSteps(t.gradientAccumulationSteps);
    const lr0 = t.learningRate ?? this.o.learningRate;
    const schedule = createSchedule({ kind: t.schedule ?? 'constant', baseLr: lr0, warmupSteps: t.warmupSteps ?? 0, totalSteps: t.steps, minLrRatio: t.minLrRatio });
    if (t.optimizerState) this.optimizer.loadState(t.optimizerState);
    const r = await runStepLoop({
      what: 'RewardModelTrainer.fit',
      params: this.o.params,
      optimizer: this.optimizer,
      lrAt: (k) => schedule.lrAt(k),
      maxGradNorm: this.o.maxGradNorm,
      startStep: t.startStep,
      stopAfter: t.steps,
      // The trainer's optimizer lives across calls (RFT's rounds); a resumed job restores its state.
      resumable: { cursor: t.cursor !== undefined, optimizerState: t.optimizerState !== undefined },
      names: { loss: 'rm/loss', lr: 'rm/lr', gradNorm: 'rm/grad_norm' },
      next: () => {
        const rows = order.nextBatch(Math.min(t.batchSize * accumulation, t.pairs.length)).map((i) => t.pairs[i]!);
        const cursor = order.cursor;
        return { micro: microBatches(rows, t.batchSize), epoch: cursor.epoch, epochEnd: cursor.rowsConsumed >= t.pairs.length, cursor };
      },
      run: (micro, at) => {
        const b = collatePairBatch(micro.map((p) => p.chosen), micro.map((p) => p.rejected), { padTokenId: this.o.padTokenId });
        const dropout = this.o.lora ? loraDropoutFeeds(this.o.config, this.o.lora.spec, b.batchSize * b.seqLen, { seed: t.seed, ...at }) : {};
        return this.train.run({ ...this.frozenFeeds, ...feedsOf(b), ...dropout });
      },
      weight: (micro) => micro.length,
      signal: t.signal,
      onStep: t.onStep,
      afterStep: t.afterStep,
    });
    return { first: r.first, last: r.last, mean: r.mean };
  }

  /** Rewards of (prompt + response) sequences under the current weights. */
  async score(examples: readonly PairExample['chosen'][], batchSize = 32): Promise<Float32Array> {
    const out = new Float32Array(examples.length);
    for (let i = 0; i < examples.length; i += batchSize) {
      const b = collateBatch(examples.slice(i, i + batchSize), { padTokenId: this.o.padTokenId });
      out.set((await this.scorer.run({ ...this.frozenFeeds, ...feedsOf(b) }))['rewards']!.data as Float32Array, i);
    }
    return out;
  }

  /** Pairwise accuracy, margin and Bradley-Terry loss on held-out pairs (no update). */
  async evaluate(pairs: readonly PairExample[], batchSize = 32): Promise<PairwiseRewardEval> {
    const pos = await this.score(pairs.map((p) => p.chosen), batchSize);
    const neg = await this.score(pairs.map((p) => p.rejected), batchSize);
    let wins = 0;
    let margin = 0;
    let loss = 0;
    for (let i = 0; i < pairs.length; i++) {
      const d = pos[i]! - neg[i]!;
      if (d > 0) wins++;
      margin += d;
      loss += -(Math.min(d, 0) - Math.log1p(Math.exp(-Math.abs(d))));
    }
    const n = Math.max(1, pairs.length);
    return { accuracy: wins / n, margin: margin / n, loss: loss / n };
  }

  async release(): Promise<void> {
    await this.train.release();
    await this.scorer.release();
  }
}

export interface RewardModelOptions extends Omit<RewardModelTrainerOptions, 'optimizer'>, Omit<RewardTrainOptions, 'learningRate'> {
  optimizer?: OptimizerSettings;
}

/** A whole REWARD_MODEL run: `steps` Bradley-Terry steps over the pairs. */
export async function runRewardModel(o: RewardModelOptions): Promise<{ metrics: Record<string, number>; optimizer: FlatOptimizer }> {
  const t = await RewardModelTrainer.create(o);
  try {
    const { last } = await t.fit(o);
    return { metrics: last, optimizer: t.optimizer };
  } finally {
    await t.release();
  }
}
