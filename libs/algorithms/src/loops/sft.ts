// Supervised fine-tuning: minimise −log π(y*|x) over the demonstrations' response tokens (token mean),
// in shuffled batches, with AdamW, gradient clipping and the configured LR schedule. The loop reports
// every step and leaves the weights in `params` (the caller saves checkpoints and pushes weights).
// Resumable: given the step, data cursor and optimizer state saved after step k (with the weights of
// step k already in `params`), it runs steps k+1.. exactly as an uninterrupted run would.
import { buildCausalLm, type ModelConfig } from '@juice/models';
import { AdamW, clipGradNorm, createSchedule, type OptimizerState, type ParamSet } from '@juice/optim';
import { collateBatch, DataOrder, type DataCursor, type TokenizedExample } from '@juice/data';
import { TrainStep } from '../engine/train-step.js';

export interface SftOptions {
  config: ModelConfig;
  params: ParamSet;
  examples: readonly TokenizedExample[];
  padTokenId: number;
  batchSize: number;
  /** Optimizer steps; 0 = `epochs` passes over the data. */
  maxSteps: number;
  epochs: number;
  learningRate: number;
  schedule: 'constant' | 'linear' | 'cosine';
  warmupSteps: number;
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
  /** AdamW state after startStep steps (resume). */
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
  optimizer: AdamW;
}

export interface SftResult {
  steps: number;
  firstLoss: number;
  lastLoss: number;
}

export async function runSft(o: SftOptions): Promise<SftResult> {
  const { graph } = buildCausalLm(o.config);
  const step = await TrainStep.create(graph, o.params);
  const order = new DataOrder(o.examples.length, o.cursor ?? { shuffleSeed: o.seed }, { shuffle: !o.noShuffle });
  const perEpoch = Math.ceil(o.examples.length / o.batchSize);
  const total = o.maxSteps > 0 ? o.maxSteps : perEpoch * Math.max(1, o.epochs);
  const schedule = createSchedule({ kind: o.schedule, baseLr: o.learningRate, warmupSteps: o.warmupSteps, totalSteps: total });
  const opt = new AdamW(o.params, { lr: o.learningRate, weightDecay: o.weightDecay });
  const start = o.startStep ?? 0;
  if (o.optimizerState) opt.loadState(o.optimizerState);
  if (start > 0 && (!o.cursor || !o.optimizerState)) throw new Error(`runSft: resuming at step ${start} needs both the saved cursor and the optimizer state`);
  let firstLoss = NaN;
  let lastLoss = NaN;
  try {
    for (let s = start; s < total; s++) {
      o.signal?.throwIfAborted();
      const rows = order.nextBatch(o.batchSize);
      // After nextBatch: the first batch of a new epoch belongs to that epoch.
      const epoch = order.cursor.epoch;
      const batch = collateBatch(rows.map((r) => o.examples[r]!), { padTokenId: o.padTokenId });
      const t0 = performance.now();
      const r = await step.run({
        input_ids: { data: batch.inputIds, dims: [batch.batchSize, batch.seqLen] },
        attention_mask: { data: batch.attentionMask, dims: [batch.batchSize, batch.seqLen] },
        labels: { data: batch.labels, dims: [batch.batchSize, batch.seqLen] },
      });
      const gradNorm = o.maxGradNorm > 0 ? clipGradNorm(r.grads, o.maxGradNorm) : NaN;
      const lr = schedule.lrAt(s);
      if (Number.isFinite(r.loss)) opt.step(r.grads, lr);
      const seconds = (performance.now() - t0) / 1000;
      if (s === start) firstLoss = r.loss;
      lastLoss = r.loss;
      const tokens = batch.responseLengths.reduce((a, b) => a + b, 0);
      o.onStep?.(s + 1, epoch, { loss: r.loss, lr, grad_norm: gradNorm, tokens_per_second: tokens / seconds, step_seconds: seconds });
      // Let the service's event loop breathe between steps (watchers, cancellation): before afterStep,
      // so a stop requested meanwhile is seen there and checkpointed.
      await new Promise<void>((res) => setImmediate(res));
      const cursor = order.cursor;
      await o.afterStep?.({ step: s + 1, epoch, epochEnd: cursor.rowsConsumed >= o.examples.length, last: s + 1 === total, stopping: o.signal?.aborted ?? false, cursor, optimizer: opt });
    }
  } finally {
    await step.release();
  }
  return { steps: total, firstLoss, lastLoss };
}
