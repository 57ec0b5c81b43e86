// One optimizer step of any objective: the forward graph (ending in `loss` and named metrics) is
// differentiated once, compiled once, and each step is a single session.run with the parameters fed
// as zero-copy views of one flat buffer; gradients come back into a flat buffer in the same layout,
// so clipping and AdamW are single loops (ENGINE-FACTS: the optimizer is faster in JS than in ORT).
import { grad, forwardOnly } from '@juice/autograd';
import { toModelBytes, type Graph } from '@juice/onnx';
import { createSession, Session, WorkerSession, type Feeds, type PreallocatedOutputs, type Runner, type SessionOptions } from '@juice/runtime';
import type { ParamSet } from '@juice/optim';

export interface TrainStepOptions extends SessionOptions {
  /** The output to minimise (default `loss`). */
  loss?: string;
  /** Scalar outputs to fetch besides `loss` (metrics). */
  metrics?: readonly string[];
  /** Parameters to train (default: every entry of the ParamSet). Others are fed but get no gradient. */
  trainable?: readonly string[];
  /** Run in a worker thread so the caller's event loop stays responsive (services). */
  worker?: boolean;
}

export interface StepResult {
  loss: number;
  metrics: Record<string, number>;
  /** Gradient of the loss in the ParamSet's layout (zeros for frozen parameters); reused between steps. */
  grads: Float32Array;
}

async function open(graph: Graph, o: TrainStepOptions): Promise<Runner & { release(): Promise<void> | void }> {
  const bytes = toModelBytes(graph);
  const opts: SessionOptions = { executionProvider: o.executionProvider, intraOpThreads: o.intraOpThreads, interOpThreads: o.interOpThreads, optimizationLevel: o.optimizationLevel, enableMemPattern: o.enableMemPattern };
  return o.worker ? WorkerSession.create(bytes, opts) : createSession(bytes, opts);
}

export class TrainStep {
  private constructor(
    private readonly session: Runner & { release(): Promise<void> | void },
    private readonly params: ParamSet,
    private readonly trainable: readonly string[],
    private readonly metricNames: readonly string[],
    private readonly gradBuffer: Float32Array,
    private readonly lossName: string = 'loss',
  ) {}

  static async create(forward: Graph, params: ParamSet, o: TrainStepOptions = {}): Promise<TrainStep> {
    const trainable = o.trainable ?? params.names;
    const metrics = o.metrics ?? [];
    const lossName = o.loss ?? 'loss';
    const g = grad(forward, { loss: lossName, wrt: trainable, keepOutputs: metrics });
    return new TrainStep(await open(g, o), params, trainable, metrics, params.gradBuffer(), lossName);
  }

  /** Feeds: the batch tensors (input_ids, labels, …); parameters are added here. */
  async run(batch: Feeds): Promise<StepResult> {
    const feeds: Feeds = { ...batch };
    for (const e of this.params.entries) feeds[e.name] = { data: this.params.view(e.name), dims: e.shape as number[], type: 'float32' };
    const names = [this.lossName, ...this.metricNames, ...this.trainable.map((n) => `grad.${n}`)];
    if (this.session instanceof Session) {
      // In process, ORT writes each gradient straight into its slot of the flat gradient buffer.
      const into: PreallocatedOutputs = {};
      for (const n of this.trainable) into[`grad.${n}`] = { data: this.params.view(n, this.gradBuffer), dims: this.params.entry(n).shape };
      const out = await this.session.run(feeds, names, into);
      return this.result(out);
    }
    const out = await this.session.run(feeds, names);
    for (const name of this.trainable) this.params.set(name, out[`grad.${name}`]!.data as Float32Array, this.gradBuffer);
    return this.result(out);
  }

  private result(out: Record<string, { data: unknown }>): StepResult {
    const metrics: Record<string, number> = {};
    for (const m of this.metricNames) metrics[m] = Number((out[m]!.data as Float32Array)[0]);
    return { loss: Number((out[this.lossName]!.data as Float32Array)[0]), metrics, grads: this.gradBuffer };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** The same objective without the backward (evaluation must not pay for it). */
export class EvalStep {
  private constructor(
    private readonly session: Runner & { release(): Promise<void> | void },
    private readonly params: ParamSet,
    readonly outputs: readonly string[],
  ) {}

  static async create(forward: Graph, params: ParamSet, outputs: readonly string[], o: TrainStepOptions = {}): Promise<EvalStep> {
    return new EvalStep(await open(forwardOnly(forward, outputs), o), params, outputs);
  }

  async run(batch: Feeds, weights: ParamSet = this.params) {
    const feeds: Feeds = { ...batch };
    for (const e of weights.entries) feeds[e.name] = { data: weights.view(e.name), dims: e.shape as number[], type: 'float32' };
    return this.session.run(feeds, this.outputs);
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
