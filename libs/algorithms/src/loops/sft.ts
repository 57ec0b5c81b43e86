// Supervised fine-tuning: minimise −log π(y*|x) over the demonstrations' response tokens (token mean, or
// per-sequence sums averaged over sequences; with trainOnPrompt the prompt tokens count too), in shuffled
// batches (optionally accumulated over micro-batches), with the configured optimizer (AdamW by default),
// gradient clipping and LR schedule. The loop reports
// every step and leaves the weights in `params` (the caller saves checkpoints and pushes weights).
// Resumable: given the step, data cursor and optimizer state saved after step k (with the weights of
// step k already in `params`), it runs steps k+1.. exactly as an uninterrupted run would.
import { buildCausalLm, type ModelConfig } from '@juice/models';
import { GraphBuilder } from '@juice/onnx';
import { createOptimizer, createSchedule, type OptimizerSettings, type OptimizerState, type ParamSet } from '@juice/optim';
import { collateBatch, DataOrder, type DataCursor, type TokenBatch, type TokenizedExample } from '@juice/data';
import { TrainStep } from '../engine/train-step.js';
import { checkAccumulationSteps, microBatches } from './accumulate.js';
import { baseWeightFeeds, loopCausalLm, loraDropoutFeeds, type LoraTraining } from './lora.js';
import { runStepLoop, type LoopPosition, type OnStep } from './step-loop.js';

export type { LoopPosition } from './step-loop.js';

/** SftConfig.loss_reduction: token mean over the batch, or each sequence's sum averaged over sequences. */
export type SftLossReduction = 'token_mean' | 'sequence_sum';

/** Puts the prompt's tokens into the loss (SftConfig.train_on_prompt): every token after the first is a target. */
export function withPromptInLoss(e: TokenizedExample): TokenizedExample {
  return { promptIds: [], responseIds: [...e.promptIds, ...e.responseIds], truncated: e.truncated };
}

/** The LM graph with `sft_loss` by the reduction (token_mean is the LM's own `loss`, unchanged). */
export function sftGraph(config: ModelConfig, reduction: SftLossReduction = 'token_mean', lora?: LoraTraining) {
  const { graph } = lora ? loopCausalLm(config, lora, { role: 'train' }) : buildCausalLm(config);
  if (reduction === 'token_mean') return { graph, loss: 'loss' };
  const g = GraphBuilder.from(graph);
  // seq_logprobs [B] already sums each row's counted tokens (labels ≠ −100).
  g.output(g.neg(g.reduceMean(g.value('seq_logprobs'), [0], false)), 'sft_loss');
  return { graph: g.build(), loss: 'sft_loss' };
}

export interface SftOptions {
  config: ModelConfig;
  /** The trained weights: the whole model, or with `lora` the adapters only (PEFT names). */
  params: ParamSet;
  /** Train LoRA adapters (`params`) on the frozen `lora.base`: no gradient or optimizer state for the base. */
  lora?: LoraTraining;
  examples: readonly TokenizedExample[];
  padTokenId: number;
  /** Rows per micro-batch (one forward/backward). */
  batchSize: number;
  /** Micro-batches per optimizer step (the step's batch is batchSize × this). Default 1. */
  gradientAccumulationSteps?: number;
  /** Default token_mean. */
  lossReduction?: SftLossReduction;
  /** Also train on prompt tokens (withPromptInLoss). Default false. */
  trainOnPrompt?: boolean;
  /** Optimizer and its hyper-parameters; default AdamW (0.9, 0.999, 1e-8) with weightDecay. */
  optimizerSettings?: OptimizerSettings;
  /** Optimizer steps; 0 = `epochs` passes over the data. */
  maxSteps: number;
  epochs: number;
  learningRate: number;
  schedule: 'constant' | 'linear' | 'cosine';
  warmupSteps: number;
  /** Final lr of linear/cosine as a fraction of learningRate. Default 0. */
  minLrRatio?: number;
  /** Used when `optimizerSettings` is not given (AdamW's decoupled decay). Default 0. */
  weightDecay?: number;
  /** Unset = 1.0; 0 = no clipping. */
  maxGradNorm?: number;
  seed: number;
  signal?: AbortSignal;
  onStep?: OnStep;
  /** Keep file order every epoch (the cursor still tracks progress). Default false. */
  noShuffle?: boolean;
  /** Optimizer steps already taken (resume); the loop runs steps startStep+1..total. Default 0. */
  startStep?: number;
  /** Data position after startStep steps (resume). */
  cursor?: DataCursor;
  /** Optimizer state after startStep steps (resume). */
  optimizerState?: OptimizerState;
  /**
   * Awaited after every step, before the next one reads data: the place to evaluate and checkpoint
   * (the position it gets is exactly what a resume needs). `stopping` = the signal fired, no more steps.
   */
  afterStep?: (at: LoopPosition) => Promise<void> | void;
}

export interface SftResult {
  steps: number;
  firstLoss: number;
  lastLoss: number;
}

const feedsOf = (batch: TokenBatch) => ({
  input_ids: { data: batch.inputIds, dims: [batch.batchSize, batch.seqLen] },
  attention_mask: { data: batch.attentionMask, dims: [batch.batchSize, batch.seqLen] },
  labels: { data: batch.labels, dims: [batch.batchSize, batch.seqLen] },
});

export async function runSft(o: SftOptions): Promise<SftResult> {
  const accumulation = checkAccumulationSteps(o.gradientAccumulationSteps);
  const reduction = o.lossReduction ?? 'token_mean';
  const examples = o.trainOnPrompt ? o.examples.map(withPromptInLoss) : o.examples;
  const { graph, loss } = sftGraph(o.config, reduction, o.lora);
  const frozen = o.lora ? baseWeightFeeds(o.lora.base) : {};
  const step = await TrainStep.create(graph, o.params, { loss });
  const order = new DataOrder(examples.length, o.cursor ?? { shuffleSeed: o.seed }, { shuffle: !o.noShuffle });
  const rowsPerStep = o.batchSize * accumulation;
  const perEpoch = Math.ceil(examples.length / rowsPerStep);
  const total = o.maxSteps > 0 ? o.maxSteps : perEpoch * Math.max(1, o.epochs);
  const schedule = createSchedule({ kind: o.schedule, baseLr: o.learningRate, warmupSteps: o.warmupSteps, totalSteps: total, minLrRatio: o.minLrRatio });
  const opt = createOptimizer(o.params, o.learningRate, o.optimizerSettings ?? { kind: 'adamw', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: o.weightDecay ?? 0 });
  if (o.optimizerState) opt.loadState(o.optimizerState);
  try {
    const r = await runStepLoop({
      what: 'runSft',
      params: o.params,
      optimizer: opt,
      lrAt: (k) => schedule.lrAt(k),
      maxGradNorm: o.maxGradNorm,
      startStep: o.startStep,
      stopAfter: total,
      resumable: { cursor: o.cursor !== undefined, optimizerState: o.optimizerState !== undefined },
      next: () => {
        const rows = order.nextBatch(rowsPerStep);
        const cursor = order.cursor;
        // After nextBatch: the first batch of a new epoch belongs to that epoch.
        return { micro: microBatches(rows, o.batchSize).map((m) => collateBatch(m.map((i) => examples[i]!), { padTokenId: o.padTokenId })), epoch: cursor.epoch, epochEnd: cursor.rowsConsumed >= examples.length, cursor };
      },
      run: (batch, at) => step.run({ ...feedsOf(batch), ...frozen, ...(o.lora ? loraDropoutFeeds(o.config, o.lora.spec, batch.batchSize * batch.seqLen, { seed: o.seed, ...at }) : {}) }),
      // The denominator of the batch's loss: its counted tokens (token mean) or its rows (sequence sum).
      weight: (batch) => (reduction === 'token_mean' ? batch.responseMask.reduce((a, b) => a + b, 0) : batch.batchSize),
      extraMetrics: (batches, seconds) => ({ tokens_per_second: batches.reduce((n, b) => n + b.responseLengths.reduce((a, c) => a + c, 0), 0) / seconds }),
      signal: o.signal,
      onStep: o.onStep,
      afterStep: o.afterStep,
    });
    return { steps: total, firstLoss: r.firstLoss, lastLoss: r.lastLoss };
  } finally {
    await step.release();
  }
}
