// BatchEngine's API, run in a worker thread. Tokens arrive as messages; a caller's onToken returning
// true (a stop string matched) asks the worker to end the row, and the tokens the worker produced after
// that point are dropped here, so results are exactly what an in-thread engine returns.
import { STATUS_CODES, StatusError, type StatusName } from '@juice/proto/status-error';
import { Worker } from 'node:worker_threads';
import type { SessionOptions } from '../session.js';
import type { EngineOptions, EngineRequest, EngineResult } from './batch-engine.js';
import type { DecoderSpec } from './decoder.js';
import type { FromEngine, ToEngine, WeightSetWire } from './engine-protocol.js';

const ENTRY = new URL('./engine-worker-bootstrap.mjs', import.meta.url);

interface Pending {
  req: EngineRequest;
  tokens: number[];
  logprobs: number[];
  stoppedAt?: number;
  resolve: (r: EngineResult) => void;
  reject: (e: unknown) => void;
}

export class WorkerEngine {
  private readonly pending = new Map<number, Pending>();
  /** setWeights calls the worker has not yet answered, oldest first. */
  private readonly weightWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private nextId = 1;
  private label: string;
  stats = { queueDepth: 0, activeRows: 0, steps: 0 };

  private constructor(
    private readonly worker: Worker,
    label: string,
  ) {
    this.label = label;
    worker.on('message', (m: FromEngine) => this.onMessage(m));
    worker.on('error', (e) => this.failAll(e));
    worker.on('exit', (code) => this.failAll(new Error(`generation worker exited (code ${code})`)));
  }

  static async create(o: { prefill: Uint8Array; decode: Uint8Array; spec: DecoderSpec; engine: EngineOptions; session?: SessionOptions; weights: WeightSetWire }): Promise<WorkerEngine> {
    const worker = new Worker(ENTRY, { workerData: { ...o, session: o.session ?? {} } });
    await new Promise<void>((resolve, reject) => {
      worker.once('error', reject);
      worker.once('message', (m: FromEngine) => (m.kind === 'ready' ? resolve() : reject(new Error(m.kind === 'init-error' ? m.message : `unexpected ${m.kind}`))));
    });
    return new WorkerEngine(worker, o.weights.label);
  }

  get weightLabel(): string {
    return this.label;
  }

  /**
   * Weights are handed to the worker once; requests that arrive later use them. Tensors in a
   * SharedArrayBuffer are shared with the worker, others are copied (structured clone). Resolves once the
   * worker holds them in its own memory (the caller may then reuse shared arrays it handed over).
   */
  setWeights(weights: WeightSetWire): Promise<void> {
    this.label = weights.label;
    const taken = new Promise<void>((resolve, reject) => this.weightWaiters.push({ resolve, reject }));
    // A caller that does not wait must not see the worker's death as an unhandled rejection.
    taken.catch(() => {});
    this.post({ kind: 'weights', weights });
    return taken;
  }

  submit(req: EngineRequest): Promise<EngineResult> {
    const id = this.nextId++;
    return new Promise<EngineResult>((resolve, reject) => {
      this.pending.set(id, { req, tokens: [], logprobs: [], resolve, reject });
      const { onToken: _t, signal, ...wire } = req;
      this.post({ kind: 'submit', id, req: { ...wire, promptIds: [...wire.promptIds], eosTokenIds: [...wire.eosTokenIds], stopTokenIds: wire.stopTokenIds ? [...wire.stopTokenIds] : undefined } });
      if (signal) {
        if (signal.aborted) this.post({ kind: 'stop', id, reason: 'cancelled' });
        else signal.addEventListener('abort', () => this.post({ kind: 'stop', id, reason: 'cancelled' }), { once: true });
      }
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }

  private post(m: ToEngine): void {
    this.worker.postMessage(m);
  }

  private onMessage(m: FromEngine): void {
    if (m.kind === 'stats') {
      this.stats = { queueDepth: m.queueDepth, activeRows: m.activeRows, steps: m.steps };
      return;
    }
    if (m.kind === 'weights-taken') {
      this.weightWaiters.shift()?.resolve();
      return;
    }
    if (m.kind === 'ready' || m.kind === 'init-error') return;
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.kind === 'token') {
      if (p.stoppedAt !== undefined) return;
      p.tokens.push(m.token);
      p.logprobs.push(m.logprob);
      if (p.req.onToken?.(m.token, m.logprob, m.top) === true) {
        p.stoppedAt = p.tokens.length;
        this.post({ kind: 'stop', id: m.id, reason: 'stop' });
      }
    } else if (m.kind === 'done') {
      this.pending.delete(m.id);
      const r = m.result;
      if (p.stoppedAt !== undefined) p.resolve({ ...r, tokens: p.tokens, logprobs: p.logprobs, finish: 'stop' });
      else p.resolve(r);
    } else if (m.kind === 'error') {
      this.pending.delete(m.id);
      // The worker's error crosses the thread as its status name; rebuilt as the one StatusError type.
      p.reject(m.grpcCode && m.grpcCode in STATUS_CODES ? new StatusError(m.grpcCode as StatusName, m.message) : new Error(m.message));
    }
  }

  private failAll(e: unknown): void {
    for (const w of this.weightWaiters.splice(0)) w.reject(e);
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}
