// Supervised fine-tuning: minimise −log π(y*|x) over the demonstrations' response tokens (token mean),
// in shuffled batches, with AdamW, gradient clipping and the configured LR schedule. The loop reports
// every step and leaves the weights in `params` (the caller saves checkpoints and pushes weights).
import { buildCausalLm, type ModelConfig } from '@juice/models';
import { AdamW, clipGradNorm, createSchedule, type ParamSet } from '@juice/optim';
import { collateBatch, DataOrder, type TokenizedExample } from '@juice/data';
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
}

export interface SftResult {
  steps: number;
  firstLoss: number;
  lastLoss: number;
}

export async function runSft(o: SftOptions): Promise<SftResult> {
  const { graph } = buildCausalLm(o.config);
  const step = await TrainStep.create(graph, o.params);
  const order = new DataOrder(o.examples.length, { shuffleSeed: o.seed });
  const perEpoch = Math.ceil(o.examples.length / o.batchSize);
  const total = o.maxSteps > 0 ? o.maxSteps : perEpoch * Math.max(1, o.epochs);
  const schedule = createSchedule({ kind: o.schedule, baseLr: o.learningRate, warmupSteps: o.warmupSteps, totalSteps: total });
  const opt = new AdamW(o.params, { lr: o.learningRate, weightDecay: o.weightDecay });
  let firstLoss = NaN;
  let lastLoss = NaN;
  try {
    for (let s = 0; s < total; s++) {
      o.signal?.throwIfAborted();
      const epoch = order.cursor.epoch;
      const rows = order.nextBatch(o.batchSize);
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
      if (s === 0) firstLoss = r.loss;
      lastLoss = r.loss;
      const tokens = batch.responseLengths.reduce((a, b) => a + b, 0);
      o.onStep?.(s + 1, epoch, { loss: r.loss, lr, grad_norm: gradNorm, tokens_per_second: tokens / seconds, step_seconds: seconds });
      // Let the service's event loop breathe between steps (watchers, cancellation).
      await new Promise<void>((res) => setImmediate(res));
    }
  } finally {
    await step.release();
  }
  return { steps: total, firstLoss, lastLoss };
}
