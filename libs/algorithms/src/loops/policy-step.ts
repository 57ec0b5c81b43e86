// RFT's policy step: given a round's rollouts (prompt, sampled response, sequence reward from the reward
// model), compute per-token log-probs of the sampling policy (π_old = the current weights, which the
// generator served), of the frozen π_ref, and the value head's estimates; turn rewards into advantages
// by the method's rule; then `epochs` passes of minibatch updates on the policy-gradient objective.
//   APA       Â = whitened GAE over rewards credited at the last token (KL leash built into the loss)
//   PPO-clip  Â = whitened GAE over KL-shaped per-token rewards; clipped ratio against π_old
//   RLOO      Â = (R − β·KL) minus the mean of the other samples of the prompt, on every token
//   REINFORCE Â = return-to-go of KL-shaped rewards minus a running mean of sequence returns
// APA and PPO also fit the value head to the GAE returns (value_loss). One PolicyTrainer lives for a
// whole job: its graphs are compiled once and AdamW's moments carry over the rounds.
import { buildCausalLm, gaussian, loraParameterShapes, parameterShapes, valueHeadShapes, type LoraSpec, type ModelConfig } from '@juice/models';
import { GraphBuilder, type Value } from '@juice/onnx';
import { createOptimizer, type FlatOptimizer, type OptimizerSettings, type ParamSet } from '@juice/optim';
import { collateBatch, DataOrder, type DataCursor, type TokenBatch } from '@juice/data';
import { EvalStep, TrainStep } from '../engine/train-step.js';
import { policyGradientLoss } from '../objectives/policy-gradient.js';
import { gae, rlooAdvantages, RunningMoments, whiten } from '../advantages.js';
import { checkAccumulationSteps, microBatches } from './accumulate.js';
import { baseWeightFeeds, loraDropoutFeeds, type LoraTraining } from './lora.js';
import { runStepLoop, type LoopPosition, type OnStep } from './step-loop.js';

export type RftMethod = 'apa' | 'ppo_clip' | 'rloo' | 'reinforce';

export const needsValueHead = (m: RftMethod) => m === 'apa' || m === 'ppo_clip';

/** The policy's tensors for a method: the LM's (under LoRA: the adapters'), plus the value head for APA and PPO. */
export function policyParameterShapes(config: ModelConfig, method: RftMethod, lora?: LoraSpec): { name: string; shape: number[] }[] {
  return [...(lora ? loraParameterShapes(config, lora) : parameterShapes(config)), ...(needsValueHead(method) ? valueHeadShapes(config) : [])];
}

/** A fresh value head (std 0.02 normal weight, zero bias: values start near 0), seeded. */
export function initValueHead(params: ParamSet, seed: number): void {
  const rand = gaussian(seed);
  const w = params.view('v_head.weight');
  for (let i = 0; i < w.length; i++) w[i] = 0.02 * rand();
  params.view('v_head.bias').fill(0);
}

export interface Rollout {
  promptIds: number[];
  /** The sampled tokens (as the generator returned them). */
  responseIds: number[];
  /** Sequence reward (normalised score plus penalties), credited at the last response token. */
  reward: number;
}

export interface PolicyTrainerOptions {
  config: ModelConfig;
  /** policyParameterShapes(config, method, lora?.spec); trained in place. */
  params: ParamSet;
  /** π_ref (parameterShapes), frozen. Under LoRA the base itself (it never trains). */
  reference: ParamSet;
  /** LoRA: `params` are the adapters (+ value head) on the frozen `lora.base`. */
  lora?: LoraTraining;
  method: RftMethod;
  padTokenId: number;
  learningRate: number;
  weightDecay?: number;
  maxGradNorm?: number;
  betas?: [number, number];
  eps?: number;
  /** The optimizer (overrides weightDecay/betas/eps); default AdamW with those. */
  optimizer?: OptimizerSettings;
  apaLambda?: number;
  ppoClip?: number;
  valueLossCoefficient?: number;
  /** PPO value clipping around the old values; 0 = none. */
  valueClip?: number;
}

export interface PolicyStepOptions {
  /** Samples of one prompt are consecutive (RLOO's groups). */
  rollouts: readonly Rollout[];
  samplesPerPrompt: number;
  /** Per-token KL penalty (PPO, RLOO, REINFORCE). */
  klCoef: number;
  whitenAdvantages: boolean;
  gaeGamma: number;
  gaeLambda: number;
  epochs: number;
  /** Rollouts per micro-batch. */
  batchSize: number;
  /** Micro-batches per optimizer step (the objective is a token mean: micro-batches weigh by tokens). Default 1. */
  gradientAccumulationSteps?: number;
  /** LR of this round's updates (default: the trainer's). */
  learningRate?: number;
  /** LR of this call's k-th update (0-based), e.g. a job-wide schedule; overrides learningRate. */
  lrAt?: (update: number) => number;
  seed: number;
  signal?: AbortSignal;
  onStep?: OnStep;
}

/** Where an interrupted round's updates continue (RFT resume inside a round). */
export interface PolicyUpdateResume {
  /** Updates of this round already taken; runs startStep+1..epochs·perEpoch. */
  startStep: number;
  /** The round's minibatch order after startStep updates. */
  cursor: DataCursor;
}

export interface PolicyStepResult {
  steps: number;
  /** Rollout statistics (kl per sequence, advantage/mean before whitening) and means over the updates. */
  metrics: Record<string, number>;
}

/** Per rollout, over its response tokens. */
export interface AnalysedRollout {
  old: number[];
  ref: number[];
  values: number[];
  advantages: number[];
  returns: number[];
}

/** The LM (with value head when the method needs one) under the policy-gradient objective; output `rl_loss`. */
export function policyGraph(config: ModelConfig, o: Pick<PolicyTrainerOptions, 'method' | 'apaLambda' | 'ppoClip' | 'valueLossCoefficient' | 'valueClip' | 'lora'>) {
  const withValue = needsValueHead(o.method);
  const lm = buildCausalLm(config, { valueHead: withValue, ...(o.lora ? { lora: o.lora.spec, loraGraph: { train: true, dropoutInputs: true } } : {}) });
  const g = GraphBuilder.from(lm.graph);
  const bt = ['B', 'T'];
  const advantages = g.input('advantages', 'float32', bt);
  const mask = g.input('response_mask', 'float32', bt);
  const ref = o.method === 'apa' ? g.input('ref_logprobs', 'float32', bt) : undefined;
  const old = o.method === 'ppo_clip' ? g.input('old_logprobs', 'float32', bt) : undefined;
  const pg = policyGradientLoss(g, g.value('token_logprobs'), { advantages, mask, ref, old }, { method: o.method === 'rloo' ? 'reinforce' : o.method, apaLambda: o.apaLambda, clip: o.ppoClip });
  // The batch mean of the advantages as fed (whitened, so ≈ 0); the round's raw mean is reported apart.
  const outputs: Record<string, Value> = { policy_loss: pg.loss, 'advantage/fed_mean': pg.metrics['advantage/mean']! };
  if (pg.metrics['kl']) outputs['kl/token'] = pg.metrics['kl'];
  for (const k of ['ppo/clip_fraction', 'ppo/approx_kl']) if (pg.metrics[k]) outputs[k] = pg.metrics[k];
  let total = pg.loss;
  if (withValue) {
    const returns = g.input('returns', 'float32', bt);
    const v = g.value('values');
    const sq = (x: Value) => g.mul(x, x);
    let err = sq(g.sub(v, returns));
    if ((o.valueClip ?? 0) > 0 && o.method === 'ppo_clip') {
      const oldV = g.input('old_values', 'float32', bt);
      const c = g.scalar(o.valueClip!, 'float32');
      const clipped = g.max(g.min(v, g.add(oldV, c)), g.sub(oldV, c));
      err = g.max(err, sq(g.sub(clipped, returns)));
    }
    const valueLoss = g.mul(g.scalar(0.5, 'float32'), g.div(g.reduceSum(g.mul(err, mask), undefined, false), g.reduceSum(mask, undefined, false)));
    outputs['value_loss'] = valueLoss;
    total = g.add(total, g.mul(g.scalar(o.valueLossCoefficient ?? 0.5, 'float32'), valueLoss));
  }
  g.output(total, 'rl_loss');
  for (const [k, v] of Object.entries(outputs)) g.output(v, k);
  return { graph: g.build(), metrics: Object.keys(outputs), lm: lm.graph };
}

const lmFeeds = (b: TokenBatch) => ({
  input_ids: { data: b.inputIds, dims: [b.batchSize, b.seqLen] },
  attention_mask: { data: b.attentionMask, dims: [b.batchSize, b.seqLen] },
  labels: { data: b.labels, dims: [b.batchSize, b.seqLen] },
});

/** The response-token entries of row `b` of a [B, T] tensor, in order. */
function responseRow(batch: TokenBatch, data: Float32Array, b: number): number[] {
  const out: number[] = [];
  for (let t = 0; t < batch.seqLen; t++) if (batch.responseMask[b * batch.seqLen + t]) out.push(data[b * batch.seqLen + t]!);
  return out;
}

/** Writes per-response-token values back into [B, T] layout (0 elsewhere). */
function toGrid(batch: TokenBatch, rows: readonly number[][]): Float32Array {
  const out = new Float32Array(batch.batchSize * batch.seqLen);
  rows.forEach((r, b) => {
    let k = 0;
    for (let t = 0; t < batch.seqLen; t++) if (batch.responseMask[b * batch.seqLen + t]) out[b * batch.seqLen + t] = r[k++] ?? 0;
  });
  return out;
}

/** What PolicyTrainer.prepare reads of a round's options. */
export type PrepareOptions = Pick<PolicyStepOptions, 'rollouts' | 'samplesPerPrompt' | 'klCoef' | 'whitenAdvantages' | 'gaeGamma' | 'gaeLambda' | 'batchSize'>;

/** A round made ready for its updates (PolicyTrainer.prepare). */
export interface PreparedRound {
  /** The rollouts with a non-empty response, in the given order. */
  rollouts: Rollout[];
  analysed: AnalysedRollout[];
  /** kl (mean per-sequence KL to π_ref) and advantage/mean (before whitening). */
  stats: Record<string, number>;
}

export class PolicyTrainer {
  /** REINFORCE's running baseline (kept across rounds; saved with the trainer state for resume). */
  baseline = new RunningMoments();
  private constructor(
    private readonly o: PolicyTrainerOptions,
    private readonly train: TrainStep,
    private readonly metricNames: readonly string[],
    private readonly policyEval: EvalStep,
    private readonly refEval: EvalStep,
    readonly optimizer: FlatOptimizer,
    /** The frozen base's feeds under LoRA. */
    private readonly frozen: ReturnType<typeof baseWeightFeeds> = {},
  ) {}

  static async create(o: PolicyTrainerOptions): Promise<PolicyTrainer> {
    const withValue = needsValueHead(o.method);
    const expected = policyParameterShapes(o.config, o.method, o.lora?.spec).map((s) => s.name).join(',');
    if (o.params.names.join(',') !== expected) throw new Error(`${o.method} policy parameters must be policyParameterShapes(config, '${o.method}')${withValue ? ' (the LM plus v_head.weight and v_head.bias)' : ''}`);
    const { graph, metrics } = policyGraph(o.config, o);
    const train = await TrainStep.create(graph, o.params, { loss: 'rl_loss', metrics });
    const policyEval = await EvalStep.create(buildCausalLm(o.config, { valueHead: withValue, ...(o.lora ? { lora: o.lora.spec } : {}) }).graph, o.params, withValue ? ['token_logprobs', 'values'] : ['token_logprobs']);
    const refEval = await EvalStep.create(buildCausalLm(o.config).graph, o.reference, ['token_logprobs']);
    const [beta1, beta2] = o.betas ?? [0.9, 0.999];
    const optimizer = createOptimizer(o.params, o.learningRate, o.optimizer ?? { kind: 'adamw', beta1, beta2, eps: o.eps ?? 1e-8, weightDecay: o.weightDecay ?? 0 });
    return new PolicyTrainer(o, train, metrics, policyEval, refEval, optimizer, o.lora ? baseWeightFeeds(o.lora.base) : {});
  }

  /** π_old and π_ref log-probs and values of every rollout's response tokens. */
  private async analyse(rollouts: readonly Rollout[], batchSize: number): Promise<Omit<AnalysedRollout, 'advantages' | 'returns'>[]> {
    const out: Omit<AnalysedRollout, 'advantages' | 'returns'>[] = [];
    for (let i = 0; i < rollouts.length; i += batchSize) {
      const rows = rollouts.slice(i, i + batchSize);
      const batch = collateBatch(rows.map((r) => ({ promptIds: r.promptIds, responseIds: r.responseIds, truncated: false })), { padTokenId: this.o.padTokenId });
      const pol = await this.policyEval.run({ ...this.frozen, ...lmFeeds(batch) });
      const ref = await this.refEval.run(lmFeeds(batch));
      rows.forEach((_, b) => {
        const old = responseRow(batch, pol['token_logprobs']!.data as Float32Array, b);
        out.push({
          old,
          ref: responseRow(batch, ref['token_logprobs']!.data as Float32Array, b),
          values: pol['values'] ? responseRow(batch, pol['values'].data as Float32Array, b) : old.map(() => 0),
        });
      });
    }
    return out;
  }

  /** Advantages and returns per rollout, by the method's rule. */
  private advantages(rollouts: readonly Rollout[], a: Omit<AnalysedRollout, 'advantages' | 'returns'>[], s: PrepareOptions): AnalysedRollout[] {
    const m = this.o.method;
    const kl = (i: number) => a[i]!.old.map((lp, k) => lp - a[i]!.ref[k]!);
    if (m === 'apa' || m === 'ppo_clip') {
      return a.map((x, i) => {
        // APA's KL leash is the loss itself; PPO folds −β·KL into every token's reward.
        const rewards = m === 'apa' ? x.old.map((_, k) => (k === x.old.length - 1 ? rollouts[i]!.reward : 0)) : kl(i).map((d, k) => -s.klCoef * d + (k === x.old.length - 1 ? rollouts[i]!.reward : 0));
        const r = gae(rewards, x.values, s.gaeGamma, s.gaeLambda);
        return { ...x, advantages: r.advantages, returns: r.returns };
      });
    }
    if (m === 'rloo') {
      const seq = a.map((_, i) => rollouts[i]!.reward - s.klCoef * kl(i).reduce((p, q) => p + q, 0));
      const adv = rlooAdvantages(seq, s.samplesPerPrompt);
      return a.map((x, i) => ({ ...x, advantages: x.old.map(() => adv[i]!), returns: x.old.map(() => seq[i]!) }));
    }
    // REINFORCE: returns-to-go of the KL-shaped rewards; the baseline is the running mean of whole-sequence returns.
    const togo = a.map((x, i) => {
      const r = kl(i).map((d, k) => -s.klCoef * d + (k === x.old.length - 1 ? rollouts[i]!.reward : 0));
      const g = new Array<number>(r.length);
      let acc = 0;
      for (let k = r.length - 1; k >= 0; k--) g[k] = acc += r[k]!;
      return g;
    });
    this.baseline.update(togo.map((g) => g[0] ?? 0));
    const b = this.baseline.mean;
    return a.map((x, i) => ({ ...x, advantages: togo[i]!.map((g) => g - b), returns: togo[i]! }));
  }

  /** A round's updates: `prepare` (π_old, π_ref, values, advantages) then `update`. */
  async step(s: PolicyStepOptions): Promise<PolicyStepResult> {
    return this.update(await this.prepare(s), s);
  }

  /**
   * Everything the round's updates need from the weights as they were when it sampled: per rollout the
   * π_old and π_ref log-probs, values, advantages (whitened when asked) and returns, plus the rollout
   * statistics. Plain numbers, so a checkpoint inside the round can hold it: the updates change π_old's
   * weights, so a resumed round must not recompute it. (REINFORCE's running baseline moves here.)
   */
  async prepare(s: PrepareOptions): Promise<PreparedRound> {
    const rollouts = s.rollouts.filter((r) => r.responseIds.length > 0);
    if (rollouts.length === 0) throw new RangeError('the policy step needs at least one rollout with a non-empty response');
    if (this.o.method === 'rloo' && rollouts.length !== s.rollouts.length) throw new RangeError('RLOO needs every sample of a prompt; drop whole prompts, not single empty samples');
    const analysed = this.advantages(rollouts, await this.analyse(rollouts, s.batchSize), s);
    // Rollout statistics before whitening: what the reward and KL look like, not how they were scaled.
    const seqKl = analysed.map((x) => x.old.reduce((p, lp, k) => p + lp - x.ref[k]!, 0));
    const allAdv = analysed.flatMap((x) => x.advantages);
    const stats = { kl: seqKl.reduce((p, q) => p + q, 0) / seqKl.length, 'advantage/mean': allAdv.reduce((p, q) => p + q, 0) / allAdv.length };
    if (s.whitenAdvantages && allAdv.length > 1) {
      const w = whiten(Float32Array.from(allAdv), new Float32Array(allAdv.length).fill(1));
      let k = 0;
      for (const x of analysed) x.advantages = x.advantages.map(() => w[k++]!);
    }
    return { rollouts, analysed, stats };
  }

  /**
   * `epochs` passes of minibatch updates over a prepared round. `resume` continues a round interrupted
   * after some updates (with the optimizer's state of that moment already loaded); `afterStep` is awaited
   * after every update with the position a checkpoint needs.
   */
  async update(p: PreparedRound, s: PolicyStepOptions, resume?: PolicyUpdateResume, afterStep?: (at: LoopPosition) => Promise<void> | void): Promise<PolicyStepResult> {
    const { rollouts, analysed, stats } = p;
    const order = new DataOrder(rollouts.length, resume?.cursor ?? { shuffleSeed: s.seed });
    const accumulation = checkAccumulationSteps(s.gradientAccumulationSteps);
    const perEpoch = Math.ceil(rollouts.length / (s.batchSize * accumulation));
    const baseLr = s.learningRate ?? this.o.learningRate;
    // `epochs` passes of perEpoch updates: the order's epochs line up with the passes.
    const r = await runStepLoop({
      what: 'PolicyTrainer.step',
      params: this.o.params,
      optimizer: this.optimizer,
      lrAt: (k) => (s.lrAt ? s.lrAt(k) : baseLr),
      maxGradNorm: this.o.maxGradNorm,
      startStep: resume?.startStep,
      stopAfter: Math.max(1, s.epochs) * perEpoch,
      next: () => {
        const idx = order.nextBatch(s.batchSize * accumulation);
        const cursor = order.cursor;
        const micro = microBatches(idx, s.batchSize).map((m) => ({ idx: m, batch: collateBatch(m.map((i) => ({ promptIds: rollouts[i]!.promptIds, responseIds: rollouts[i]!.responseIds, truncated: false })), { padTokenId: this.o.padTokenId }) }));
        return { micro, epoch: cursor.epoch, epochEnd: cursor.rowsConsumed >= rollouts.length, cursor };
      },
      run: ({ idx, batch }, at) => {
        const grid = (f: (x: AnalysedRollout) => number[]) => ({ data: toGrid(batch, idx.map((i) => f(analysed[i]!))), dims: [batch.batchSize, batch.seqLen] });
        const feeds: Record<string, { data: Float32Array | BigInt64Array; dims: number[] }> = { ...lmFeeds(batch), advantages: grid((x) => x.advantages), response_mask: { data: batch.responseMask, dims: [batch.batchSize, batch.seqLen] } };
        if (this.o.method === 'apa') feeds['ref_logprobs'] = grid((x) => x.ref);
        if (this.o.method === 'ppo_clip') feeds['old_logprobs'] = grid((x) => x.old);
        if (needsValueHead(this.o.method)) feeds['returns'] = grid((x) => x.returns);
        if (this.o.method === 'ppo_clip' && (this.o.valueClip ?? 0) > 0) feeds['old_values'] = grid((x) => x.values);
        const dropout = this.o.lora ? loraDropoutFeeds(this.o.config, this.o.lora.spec, batch.batchSize * batch.seqLen, { seed: s.seed, ...at }) : {};
        return this.train.run({ ...this.frozen, ...feeds, ...dropout });
      },
      weight: ({ batch }) => batch.responseMask.reduce((a, b) => a + b, 0),
      signal: s.signal,
      onStep: s.onStep,
      afterStep,
    });
    const means = Object.fromEntries(Object.entries(r.mean).filter(([k]) => this.metricNames.includes(k) || ['loss', 'grad_norm'].includes(k)));
    return { steps: r.steps, metrics: { ...means, ...stats } };
  }

  async release(): Promise<void> {
    await this.train.release();
    await this.policyEval.release();
    await this.refEval.release();
  }
}
