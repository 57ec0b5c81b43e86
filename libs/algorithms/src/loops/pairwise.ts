// Pairwise training, shared by DPO (chosen vs rejected from a preference set, π_ref the frozen initial
// model) and IRFT/SPIN (demonstration vs the policy's own sample, π_ref the stage's starting model):
// L = loss(β[(log π − log π_ref)(chosen) − (log π − log π_ref)(rejected)]) over summed response
// log-probs. The reference log-probs are computed per batch by a forward-only session on frozen weights.
// Resumable like runSft: start step, data cursor and optimizer state continue a run exactly.
// IRFT may add α·(token-mean NLL of the chosen rows) to the objective (sftCoefficient).
import { buildCausalLm, type FloatType, type ModelConfig } from '@juice/models';
import { GraphBuilder } from '@juice/onnx';
import { createOptimizer, createSchedule, type FlatOptimizer, type OptimizerSettings, type OptimizerState, type ParamSet } from '@juice/optim';
import { collatePairBatch, DataOrder, type DataCursor, type TokenizedExample } from '@juice/data';
import { EvalStep, TrainStep } from '../engine/train-step.js';
import { demonstrationNll, pairwiseLoss, type PairLossKind } from '../objectives/pairwise.js';
import { checkAccumulationSteps, microBatches } from './accumulate.js';
import { baseWeightFeeds, loopCausalLm, loraDropoutFeeds, loraEnabledFeed, type LoraTraining } from './lora.js';
import { runStepLoop, type LoopPosition, type OnStep } from './step-loop.js';

export interface PairExample {
  chosen: TokenizedExample;
  rejected: TokenizedExample;
}

export interface PairwiseOptions {
  config: ModelConfig;
  /** Trained in place: the whole model, or with `lora` the adapters only. */
  params: ParamSet;
  /**
   * Frozen reference weights (same layout as params). With `lora`: a snapshot of the adapters (IRFT's
   * stage-start reference, run on the base with adapters enabled), or unset = the base with the adapters
   * disabled (lora_enabled = 0; DPO's and IRFT INITIAL's reference).
   */
  reference?: ParamSet;
  /** Train LoRA adapters (`params`) on the frozen `lora.base`: no gradient or optimizer state for the base. */
  lora?: LoraTraining;
  pairs: readonly PairExample[];
  beta: number;
  loss: PairLossKind;
  padTokenId: number;
  /** Pairs per micro-batch. */
  batchSize: number;
  /**
   * Micro-batches per optimizer step. Default 1. The pairwise loss (a mean over pairs) is exactly the big
   * batch's; the optional SFT term is the pair-weighted mean of the micro-batches' token means.
   */
  gradientAccumulationSteps?: number;
  /** Steps of this call; the LR schedule spans them unless `scheduleSteps` says otherwise. */
  steps: number;
  /**
   * The steps the LR schedule spans (default `steps`), and where this call's first step sits in it
   * (default 0): IRFT's stages continue one job-wide schedule (stage s starts at s × steps_per_stage).
   */
  scheduleSteps?: number;
  scheduleStart?: number;
  /** Stop after this step though `steps` are planned (a job's max_steps cuts a stage short); default `steps`. */
  stopAfter?: number;
  /** α of the added α·NLL(chosen rows) term (IRFT's sft_loss_coefficient), reported as `sft/loss`. Default 0. */
  sftCoefficient?: number;
  learningRate: number;
  schedule?: 'constant' | 'linear' | 'cosine';
  warmupSteps?: number;
  /** Final lr of linear/cosine as a fraction of learningRate. Default 0. */
  minLrRatio?: number;
  /** Used when `optimizerSettings` is not given (AdamW's decoupled decay). Default 0. */
  weightDecay?: number;
  /** The optimizer a new one is built with; default AdamW (0.9, 0.999, 1e-8) with weightDecay. */
  optimizerSettings?: OptimizerSettings;
  /** Unset = 1.0; 0 = no clipping. */
  maxGradNorm?: number;
  seed: number;
  signal?: AbortSignal;
  onStep?: OnStep;
  /** Continue an optimizer across calls (IRFT stages share one). */
  optimizer?: FlatOptimizer;
  /** Keep the pairs' order every epoch. Default false. */
  noShuffle?: boolean;
  /** Steps of this call already taken (resume); runs steps startStep+1..steps. Default 0. */
  startStep?: number;
  /** Data position after startStep steps (resume). */
  cursor?: DataCursor;
  /** Optimizer state to restore before the first step (resume), into `optimizer` or the new one. */
  optimizerState?: OptimizerState;
  /** Awaited after every step (evaluate, checkpoint); `epochEnd` is an epoch over `pairs`. */
  afterStep?: (at: LoopPosition) => Promise<void> | void;
}

const METRICS = ['reward/chosen', 'reward/rejected', 'reward/margin', 'reward/accuracy', 'logp/chosen', 'logp/rejected'];

export interface PairwiseGraphOptions {
  /** α > 0 adds α·(token-mean NLL of the chosen rows) to `pair_loss` and outputs the NLL as `sft/loss`. */
  sftCoefficient?: number;
  /** float64 for tight gradient checks; training runs float32. */
  dtype?: FloatType;
  /** Train LoRA adapters; `forward` is then the switchable, dropout-free reference graph. */
  lora?: LoraTraining;
}

/**
 * The causal LM forward with the pairwise objective on top: inputs are 2B rows, chosen first, plus
 * `ref_logps` [2B]. The objective is output as `pair_loss` (the LM's own `loss` stays the token-mean NLL
 * over all 2B rows, which is why the SFT term is computed from `token_logprobs` of the chosen half).
 */
export function pairwiseGraph(config: ModelConfig, beta: number, loss: PairLossKind, o: PairwiseGraphOptions = {}) {
  const dtype = o.dtype ?? 'float32';
  const alpha = o.sftCoefficient ?? 0;
  if (!(alpha >= 0 && Number.isFinite(alpha))) throw new Error(`pairwiseGraph: sftCoefficient must be a finite number >= 0, got ${alpha}`);
  const lm = o.lora ? loopCausalLm(config, o.lora, { dtype, role: 'train' }) : buildCausalLm(config, { dtype });
  const forward = o.lora ? loopCausalLm(config, o.lora, { dtype, role: 'reference' }).graph : lm.graph;
  const g = GraphBuilder.from(lm.graph);
  const out = pairwiseLoss(g, g.value('seq_logprobs'), g.input('ref_logps', dtype, ['2B']), { beta, loss });
  let total = out.loss;
  if (alpha > 0) {
    const nll = demonstrationNll(g, g.value('token_logprobs'), g.value('labels'));
    total = g.add(total, g.mul(g.scalar(alpha, dtype), nll));
    g.output(nll, 'sft/loss');
  }
  g.output(total, 'pair_loss');
  for (const [name, v] of Object.entries(out.metrics)) g.output(v, name);
  return { graph: g.build(), forward };
}

export async function runPairwise(o: PairwiseOptions): Promise<{ optimizer: FlatOptimizer; metrics: Record<string, number> }> {
  const accumulation = checkAccumulationSteps(o.gradientAccumulationSteps);
  const sft = (o.sftCoefficient ?? 0) > 0;
  const { graph, forward } = pairwiseGraph(o.config, o.beta, o.loss, { sftCoefficient: o.sftCoefficient, lora: o.lora });
  if (!o.lora && !o.reference) throw new Error('runPairwise: a full-parameter run needs its reference weights');
  const frozen = o.lora ? baseWeightFeeds(o.lora.base) : {};
  // LoRA: the reference is the base (adapters off) or a snapshot of the adapters (on), on the same base feeds.
  const refFeeds = o.lora ? { ...frozen, ...loraEnabledFeed(o.reference !== undefined) } : {};
  const refWeights = o.reference ?? o.params;
  const train = await TrainStep.create(graph, o.params, { metrics: sft ? [...METRICS, 'sft/loss'] : METRICS, loss: 'pair_loss' });
  const stopAfter = Math.min(o.stopAfter ?? o.steps, o.steps);
  const ref = await EvalStep.create(forward, refWeights, ['seq_logprobs']);
  const order = new DataOrder(o.pairs.length, o.cursor ?? { shuffleSeed: o.seed }, { shuffle: !o.noShuffle });
  const opt = o.optimizer ?? createOptimizer(o.params, o.learningRate, o.optimizerSettings ?? { kind: 'adamw', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: o.weightDecay ?? 0 });
  if (o.optimizerState) opt.loadState(o.optimizerState);
  const schedule = createSchedule({ kind: o.schedule ?? 'constant', baseLr: o.learningRate, warmupSteps: o.warmupSteps ?? 0, totalSteps: o.scheduleSteps ?? o.steps, minLrRatio: o.minLrRatio });
  const offset = o.scheduleStart ?? 0;
  try {
    const r = await runStepLoop({
      what: 'runPairwise',
      params: o.params,
      optimizer: opt,
      lrAt: (k) => schedule.lrAt(offset + k),
      maxGradNorm: o.maxGradNorm,
      startStep: o.startStep,
      stopAfter,
      // A live optimizer carried over (IRFT's stages) is as good as a restored state.
      resumable: { cursor: o.cursor !== undefined, optimizerState: o.optimizerState !== undefined || o.optimizer !== undefined },
      next: () => {
        const rows = order.nextBatch(o.batchSize * accumulation).map((i) => o.pairs[i]!);
        const cursor = order.cursor;
        return { micro: microBatches(rows, o.batchSize), epoch: cursor.epoch, epochEnd: cursor.rowsConsumed >= o.pairs.length, cursor };
      },
      run: async (micro, at) => {
        const batch = collatePairBatch(micro.map((p) => p.chosen), micro.map((p) => p.rejected), { padTokenId: o.padTokenId });
        const feeds = {
          input_ids: { data: batch.inputIds, dims: [batch.batchSize, batch.seqLen] },
          attention_mask: { data: batch.attentionMask, dims: [batch.batchSize, batch.seqLen] },
          labels: { data: batch.labels, dims: [batch.batchSize, batch.seqLen] },
        };
        const refOut = await ref.run({ ...feeds, ...refFeeds });
        const dropout = o.lora ? loraDropoutFeeds(o.config, o.lora.spec, batch.batchSize * batch.seqLen, { seed: o.seed, ...at }) : {};
        return train.run({ ...feeds, ...frozen, ...dropout, ref_logps: { data: refOut.seq_logprobs!.data as Float32Array, dims: [batch.batchSize] } });
      },
      weight: (micro) => micro.length,
      signal: o.signal,
      onStep: o.onStep,
      afterStep: o.afterStep,
    });
    return { optimizer: opt, metrics: r.last };
  } finally {
    await train.release();
    await ref.release();
  }
}
