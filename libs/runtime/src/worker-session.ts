// The Session API executed on a worker thread, so a service's event loop (health checks, cancellation,
// gRPC streams) keeps running while a long training step computes.
import { Worker } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import type { RunOutputs, Runner, SessionOptions, ValueInfo } from './session.js';
import type { FeedValue, Feeds, TypedArrayData } from './tensor.js';
import { ownsWholeBuffer } from './worker-protocol.js';
import type { FromWorker, ToWorker, WireTensor, WorkerInit } from './worker-protocol.js';

export interface WorkerRunOptions {
  /**
   * Move input buffers to the worker instead of copying them (the caller's arrays become detached).
   * Only arrays that span their whole ArrayBuffer are moved; views are always copied.
   */
  transferInputs?: boolean;
}

/** A .mjs entry that registers tsx, then loads worker.ts (see the note in worker-bootstrap.mjs). */
const WORKER_ENTRY = new URL('./worker-bootstrap.mjs', import.meta.url);

function toWire(name: string, value: FeedValue, transfer: boolean, transferList: ArrayBuffer[]): WireTensor {
  let data: TypedArrayData | string[];
  let wire: Omit<WireTensor, 'data'>;
  if (value instanceof ort.Tensor) {
    if (value.location !== 'cpu') throw new Error(`input "${name}": WorkerSession needs CPU tensors, got location ${value.location}`);
    data = value.data as TypedArrayData | string[];
    wire = { dims: [...value.dims], type: value.type };
  } else if (ArrayBuffer.isView(value)) {
    data = value;
    wire = {};
  } else {
    data = value.data;
    wire = { dims: [...value.dims], ...(value.type ? { type: value.type } : {}) };
  }
  // Views of a SharedArrayBuffer cross as they are: the worker reads the same memory, nothing is copied
  // (a pushed weight version is assembled in shared memory for this; its arrays are not written after).
  if (ArrayBuffer.isView(data) && !(data.buffer instanceof SharedArrayBuffer)) {
    if (transfer && ownsWholeBuffer(data)) transferList.push(data.buffer as ArrayBuffer);
    else if (!ownsWholeBuffer(data)) {
      // postMessage would clone the whole backing buffer (e.g. all parameters) for a subarray view.
      data = data.slice();
      transferList.push(data.buffer as ArrayBuffer);
    }
  }
  return { ...wire, data };
}

interface Pending {
  resolve: (v: RunOutputs) => void;
  reject: (e: Error) => void;
}

export class WorkerSession implements Runner {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closing: Promise<void> | undefined;
  private dead: Error | undefined;

  private constructor(
    private readonly worker: Worker,
    readonly inputs: readonly ValueInfo[],
    readonly outputs: readonly ValueInfo[],
  ) {
    this.inputNames = inputs.map((v) => v.name);
    this.outputNames = outputs.map((v) => v.name);
    worker.on('message', (msg: FromWorker) => this.onMessage(msg));
    worker.on('error', (e) => this.fail(e));
    worker.on('exit', (code) => this.fail(new Error(`WorkerSession worker exited (code ${code})`)));
  }

  /**
   * Starts a worker that owns the session. Model bytes are transferred (the caller's Uint8Array is
   * detached when it spans its whole buffer; pass a copy to keep it); a path is loaded by the worker.
   */
  static async create(model: Uint8Array | string, options: SessionOptions = {}): Promise<WorkerSession> {
    const transferList: ArrayBuffer[] = [];
    let payload = model;
    if (typeof model !== 'string') {
      if (!ownsWholeBuffer(model)) payload = model.slice();
      transferList.push((payload as Uint8Array).buffer as ArrayBuffer);
    }
    const init: WorkerInit = { model: payload, options };
    const worker = new Worker(WORKER_ENTRY, { workerData: init, transferList });
    const ready = await new Promise<Extract<FromWorker, { kind: 'ready' }>>((resolve, reject) => {
      const onExit = (code: number) => reject(new Error(`WorkerSession worker exited (code ${code}) before the session was created`));
      worker.once('error', reject);
      worker.once('exit', onExit);
      worker.once('message', (msg: FromWorker) => {
        worker.off('error', reject);
        worker.off('exit', onExit);
        if (msg.kind === 'ready') resolve(msg);
        else {
          const err = new Error(msg.kind === 'init-error' ? msg.message : `unexpected worker message ${msg.kind}`);
          if (msg.kind === 'init-error') err.name = msg.name;
          void worker.terminate();
          reject(err);
        }
      });
    });
    return new WorkerSession(worker, ready.inputs, ready.outputs);
  }

  /** Runs queued behind earlier runs on this worker. */
  get queued(): number {
    return this.pending.size;
  }

  run(feeds: Feeds, outputs?: readonly string[], options: WorkerRunOptions = {}): Promise<RunOutputs> {
    if (this.closing) return Promise.reject(new Error('WorkerSession.run after close()'));
    if (this.dead) return Promise.reject(this.dead);
    const transferList: ArrayBuffer[] = [];
    let wire: Record<string, WireTensor>;
    try {
      wire = {};
      for (const [name, value] of Object.entries(feeds)) wire[name] = toWire(name, value, options.transferInputs ?? false, transferList);
    } catch (e) {
      return Promise.reject(e);
    }
    const id = this.nextId++;
    const msg: ToWorker = { kind: 'run', id, feeds: wire, ...(outputs ? { outputs: [...outputs] } : {}) };
    return new Promise<RunOutputs>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage(msg, transferList);
    });
  }

  /**
   * Keeps these inputs in the worker and adds them to every later run (a run's own feeds win). Weights
   * are pinned once instead of being copied to the worker on every step; pinning again replaces them,
   * in order with runs (runs queued before keep the previous values).
   */
  pin(feeds: Feeds): Promise<void> {
    if (this.closing) return Promise.reject(new Error('WorkerSession.pin after close()'));
    if (this.dead) return Promise.reject(this.dead);
    const wire: Record<string, WireTensor> = {};
    const transferList: ArrayBuffer[] = [];
    for (const [name, value] of Object.entries(feeds)) wire[name] = toWire(name, value, false, transferList);
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve: () => resolve(), reject });
      this.worker.postMessage({ kind: 'pin', id, feeds: wire } satisfies ToWorker, transferList);
    });
  }

  /** Releases the session after queued runs finish and stops the worker. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.dead) return;
      const id = this.nextId++;
      const released = new Promise<void>((resolve) => {
        this.pending.set(id, { resolve: () => resolve(), reject: () => resolve() });
      });
      this.worker.postMessage({ kind: 'release', id } satisfies ToWorker);
      await released;
      await this.worker.terminate();
    })();
    return this.closing;
  }

  /** Same as close(), so a WorkerSession can stand in for a Session. */
  release(): Promise<void> {
    return this.close();
  }

  private onMessage(msg: FromWorker): void {
    if (msg.kind === 'ready' || msg.kind === 'init-error') return;
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.kind === 'result') {
      const out: RunOutputs = {};
      for (const [name, t] of Object.entries(msg.outputs)) out[name] = new ort.Tensor(t.type, t.data as Float32Array, t.dims);
      p.resolve(out);
    } else if (msg.kind === 'released' || msg.kind === 'pinned') {
      p.resolve({});
    } else {
      const err = new Error(msg.message);
      err.name = msg.name;
      p.reject(err);
    }
  }

  private fail(e: Error): void {
    this.dead ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}
