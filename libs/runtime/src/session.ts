// One ORT InferenceSession with juice's defaults ('basic' optimisation, no memory pattern: see
// ENGINE-FACTS) and guards ORT lacks: a clear provider error, feed validation, release() twice.
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import ort from 'onnxruntime-node';
import { assertExecutionProvider, providerCreationError } from './providers.js';
import type { ExecutionProviderName } from './providers.js';
import { toOrtTensor } from './tensor.js';
import type { Feeds, InputSpec, TensorType } from './tensor.js';

export type OptimizationLevel = 'disabled' | 'basic' | 'extended' | 'layout' | 'all';
export type LogSeverity = 'verbose' | 'info' | 'warning' | 'error' | 'fatal';
const SEVERITY: Record<LogSeverity, 0 | 1 | 2 | 3 | 4> = { verbose: 0, info: 1, warning: 2, error: 3, fatal: 4 };

export interface SessionOptions {
  /** Default 'cpu'. */
  executionProvider?: ExecutionProviderName;
  /** Threads inside one op (ORT default: all cores). */
  intraOpThreads?: number;
  interOpThreads?: number;
  /** Default 'basic': the optimising levels make creation of big graphs ~quadratic for no step-time gain. */
  optimizationLevel?: OptimizationLevel;
  /** Default false: cut peak RSS by ~30% at equal speed. */
  enableMemPattern?: boolean;
  /** Default 'warning' (ORT's default). */
  logSeverity?: LogSeverity;
}

export type RunOutputs = Record<string, ort.Tensor>;

export interface ValueInfo {
  name: string;
  type?: TensorType;
  shape?: readonly (number | string)[];
}

/** Output buffers ORT fills in place (float32; dims must match the output's shape). */
export type PreallocatedOutputs = Record<string, { data: Float32Array; dims: readonly number[] }>;

/** What both Session and WorkerSession offer. */
export interface Runner {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Feeds, outputs?: readonly string[]): Promise<RunOutputs>;
  release(): Promise<void>;
}

export function toOrtOptions(options: SessionOptions): ort.InferenceSession.SessionOptions {
  const o: ort.InferenceSession.SessionOptions = {
    executionProviders: [options.executionProvider ?? 'cpu'],
    graphOptimizationLevel: options.optimizationLevel ?? 'basic',
    enableMemPattern: options.enableMemPattern ?? false,
    logSeverityLevel: SEVERITY[options.logSeverity ?? 'warning'],
  };
  // Sequential execution: every core goes to the inside of one op (measured ~2% faster on the train
  // step than ORT's default pools; the inter-op pool only helps graphs with independent branches).
  o.intraOpNumThreads = options.intraOpThreads ?? availableParallelism();
  o.interOpNumThreads = options.interOpThreads ?? 1;
  return o;
}

function describe(meta: readonly ort.InferenceSession.ValueMetadata[]): ValueInfo[] {
  return meta.map((m) => (m.isTensor ? { name: m.name, type: m.type, shape: m.shape } : { name: m.name }));
}

export class Session implements Runner {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  private readonly inputSpecs: Map<string, InputSpec>;
  private releasing: Promise<void> | undefined;

  constructor(
    private readonly ort: ort.InferenceSession,
    readonly executionProvider: ExecutionProviderName,
  ) {
    this.inputNames = [...ort.inputNames];
    this.outputNames = [...ort.outputNames];
    this.inputs = describe(ort.inputMetadata);
    this.outputs = describe(ort.outputMetadata);
    this.inputSpecs = new Map(this.inputs.map((v) => [v.name, v]));
  }

  get released(): boolean {
    return this.releasing !== undefined;
  }

  /**
   * Runs the model; returns the requested outputs (default: all). Note ORT computes on the calling
   * thread: use WorkerSession where the event loop must stay responsive.
   */
  async run(feeds: Feeds, outputs?: readonly string[], into?: PreallocatedOutputs): Promise<RunOutputs> {
    if (this.releasing) throw new Error('Session.run after release()');
    const missing = this.inputNames.filter((n) => !(n in feeds));
    const unknown = Object.keys(feeds).filter((n) => !this.inputSpecs.has(n));
    if (missing.length || unknown.length) {
      throw new Error(`Session.run feeds: missing [${missing.join(', ')}], unknown [${unknown.join(', ')}]; the model's inputs are [${this.inputNames.join(', ')}]`);
    }
    const badOut = (outputs ?? []).filter((n) => !this.outputNames.includes(n));
    if (badOut.length) throw new Error(`Session.run: unknown outputs [${badOut.join(', ')}]; the model's outputs are [${this.outputNames.join(', ')}]`);
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const name of this.inputNames) ortFeeds[name] = toOrtTensor(name, feeds[name], this.inputSpecs.get(name));
    if (into) {
      // ORT writes these outputs straight into the caller's buffers (e.g. views of one flat gradient
      // buffer), saving the copy of every output into a fresh JS array and the copy back.
      const fetches: Record<string, ort.Tensor | null> = {};
      for (const name of outputs ?? this.outputNames) {
        const dst = into[name];
        fetches[name] = dst ? new ort.Tensor('float32', dst.data, [...dst.dims]) : null;
      }
      return this.ort.run(ortFeeds, fetches);
    }
    return outputs ? this.ort.run(ortFeeds, [...outputs]) : this.ort.run(ortFeeds);
  }

  /** Frees the native session. Safe to call more than once (ORT throws on a second release). */
  release(): Promise<void> {
    this.releasing ??= this.ort.release();
    return this.releasing;
  }
}

/** Creates a Session from model bytes or a file path (paths keep external data mmapped). */
export async function createSession(model: Uint8Array | string, options: SessionOptions = {}): Promise<Session> {
  const provider = options.executionProvider ?? 'cpu';
  assertExecutionProvider(provider);
  const ortOptions = toOrtOptions(options);
  let inner: ort.InferenceSession;
  try {
    inner = typeof model === 'string' ? await ort.InferenceSession.create(model, ortOptions) : await ort.InferenceSession.create(model, ortOptions);
  } catch (e) {
    throw providerCreationError(provider, e);
  }
  return new Session(inner, provider);
}

/** Reads a model file into memory (for WorkerSession, which transfers bytes to its thread). */
export async function readModel(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    throw new Error(`cannot read ONNX model "${path}": ${(e as Error).message}`);
  }
}
