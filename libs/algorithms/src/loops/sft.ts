// Supervised fine-tuning: minimise −log π(y*|x) over the demonstrations' response tokens (token mean, or
// per-sequence sums averaged over sequences; with trainOnPrompt the prompt tokens count too), in shuffled
// batches (optionally accumulated over micro-batches), with the configured optimizer (AdamW by default),
// gradient clipping and LR schedule. The loop reports
// every step and leaves the weights in `params` (the caller saves checkpoints and pushes weights).
// Resumable: given the step, data cursor and optimizer state saved after step k (with the weights of
// step k already in `params`), it runs steps k+1.. exactly as an uninterrupted run would.
import { buildCausalLm, type ModelConfig } from '@juice/models';
import { GraphBuilder } from '@juice/onnx';
import { clipGradNorm, createOptimizer, createSchedule, type FlatOptimizer, type OptimizerSettings, type OptimizerState, type ParamSet } from '@juice/optim';
import { collateBatch, DataOrder, type DataCursor, type TokenizedExample } from '@juice/data';
import { TrainStep } from '../engine/train-step.js';
import { Accumulator, checkAccumulationSteps, microBatches } from './accumulate.js';

/** SftConfig.loss_reduction: token mean over the batch, or each sequence's sum averaged over sequences. */
export type SftLossReduction = 'token_mean' | 'sequence_sum';

/** Puts the prompt's tokens into the loss (SftConfig.train_on_prompt): every token after the first is a target. */
export function withPromptInLoss(e: TokenizedExample): TokenizedExample {
  return { promptIds: [], responseIds: [...e.promptIds, ...e.responseIds], truncated: e.truncated };
}

/** The LM graph with `sft_loss` by the reduction (token_mean is the LM's own `loss`, unchanged). */
export function sftGraph(config: ModelConfig, reduction: SftLossReduction = 'token_mean') {
  const { graph } = buildCausalLm(config);
  if (reduction === 'token_mean') return { graph, loss: 'loss' };
  const g = GraphBuilder.from(graph);
  // seq_logprobs [B] already sums each row's counted tokens (labels ≠ −100).
  g.output(g.neg(g.reduceMean(g.value('seq_logprobs'), [0], false)), 'sft_loss');
  return { graph: g.build(), loss: 'sft_loss' };
}

export interface SftOptions {
  config: ModelConfig;
  params: ParamSet;
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
  /** Used when `optimizerSettings` is not given (AdamW's decoupled decay). */
  weightDecay: number;
  maxGradNorm: number;
  seed: number;
  signal?: AbortSignal;
  onStep?: (step: number, epoch: number, metrics: Record<string, number>) => void;
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

/** Where a loop is after a step: everything a checkpoint must hold besides the weights. */
export interface LoopPosition {
  /** Optimizer steps completed. */
  step: number;
  /** Epoch of the step just taken. */
  epoch: number;
  /** The step just taken finished an epoch. */
  epochEnd: boolean;
  /** The last step of the loop. */
  last: boolean;
  /** The abort signal fired: the loop stops after this callback. */
  stopping: boolean;
  cursor: DataCursor;
  optimizer: FlatOptimizer;
}

export interface SftResult {
  steps: number;
  firstLoss: number;
  lastLoss: number;
}

export async function runSft(o: SftOptions): Promise<SftResult> {
  const accumulation = checkAccumulationSteps(o.gradientAccumulationSteps);
  const reduction = o.lossReduction ?? 'token_mean';
  const examples = o.trainOnPrompt ? o.examples.map(withPromptInLoss) : o.examples;
  const { graph, loss } = sftGraph(o.config, reduction);
  const step = await TrainStep.create(graph, o.params, { loss });
  const acc = new Accumulator(o.params);
  const order = new DataOrder(examples.length, o.cursor ?? { shuffleSeed: o.seed }, { shuffle: !o.noShuffle });
  const rowsPerStep = o.batchSize * accumulation;
  const perEpoch = Math.ceil(examples.length / rowsPerStep);
  const total = o.maxSteps > 0 ? o.maxSteps : perEpoch * Math.max(1, o.epochs);
  const schedule = createSchedule({ kind: o.schedule, baseLr: o.learningRate, warmupSteps: o.warmupSteps, totalSteps: total, minLrRatio: o.minLrRatio });
  const opt = createOptimizer(o.params, o.learningRate, o.optimizerSettings ?? { kind: 'adamw', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: o.weightDecay });
  const start = o.startStep ?? 0;
  if (o.optimizerState) opt.loadState(o.optimizerState);
  if (start > 0 && (!o.cursor || !o.optimizerState)) throw new Error(`runSft: resuming at step ${start} needs both the saved cursor and the optimizer state`);
  let firstLoss = NaN;
  let lastLoss = NaN;
  try {
    for (let s = start; s < total; s++) {
      o.signal?.throwIfAborted();
      const rows = order.nextBatch(rowsPerStep);
      // After nextBatch: the first batch of a new epoch belongs to that epoch.
      const epoch = order.cursor.epoch;
      const batches = microBatches(rows, o.batchSize).map((m) => collateBatch(m.map((r) => examples[r]!), { padTokenId: o.padTokenId }));
      const t0 = performance.now();
      const r = await acc.run(
        batches,
        (batch) =>
          step.run({
            input_ids: { data: batch.inputIds, dims: [batch.batchSize, batch.seqLen] },
            attention_mask: { data: batch.attentionMask, dims: [batch.batchSize, batch.seqLen] },
            labels: { data: batch.labels, dims: [batch.batchSize, batch.seqLen] },
          }),
        // The denominator of the batch's loss: its counted tokens (token mean) or its rows (sequence sum).
        (batch) => (reduction === 'token_mean' ? batch.responseMask.reduce((a, b) => a + b, 0) : batch.batchSize),
      );
      const gradNorm = o.maxGradNorm > 0 ? clipGradNorm(r.grads, o.maxGradNorm) : NaN;
      const lr = schedule.lrAt(s);
      if (Number.isFinite(r.loss)) opt.step(r.grads, lr);
      const seconds = (performance.now() - t0) / 1000;
      if (s === start) firstLoss = r.loss;
      lastLoss = r.loss;
      const tokens = batches.reduce((n, b) => n + b.responseLengths.reduce((a, c) => a + c, 0), 0);
      o.onStep?.(s + 1, epoch, { loss: r.loss, lr, grad_norm: gradNorm, tokens_per_second: tokens / seconds, step_seconds: seconds });
      // Let the service's event loop breathe between steps (watchers, cancellation): before afterStep,
      // so a stop requested meanwhile is seen there and checkpointed.
      await new Promise<void>((res) => setImmediate(res));
      const cursor = order.cursor;
      await o.afterStep?.({ step: s + 1, epoch, epochEnd: cursor.rowsConsumed >= examples.length, last: s + 1 === total, stopping: o.signal?.aborted ?? false, cursor, optimizer: opt });
    }
  } finally {
    await step.release();
  }
  return { steps: total, firstLoss, lastLoss };
}
