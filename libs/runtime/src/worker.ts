// Worker thread that owns one ORT session: runs requests one at a time (ORT blocks this thread, not the
// caller's) and sends outputs back by transferring their buffers.
import { parentPort, workerData } from 'node:worker_threads';
import { createSession } from './session.js';
import type { Session } from './session.js';
import type { Feeds, TypedArrayData } from './tensor.js';
import { ownsWholeBuffer } from './worker-protocol.js';
import type { FromWorker, ToWorker, WireTensor, WorkerInit } from './worker-protocol.js';
import { ownCopy } from './shared-feeds.js';

const port = parentPort!;
const post = (msg: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

async function main(): Promise<void> {
  const init = workerData as WorkerInit;
  let session: Session;
  try {
    session = await createSession(init.model, init.options);
  } catch (e) {
    post({ kind: 'init-error', message: (e as Error).message, name: (e as Error).name });
    return;
  }
  post({ kind: 'ready', inputs: [...session.inputs], outputs: [...session.outputs] });

  let queue: Promise<void> = Promise.resolve();
  port.on('message', (msg: ToWorker) => {
    queue = queue.then(() => handle(session, msg));
  });
}

/** A wire array as ORT takes it: shared memory copied into this thread's (into `reuse` if it fits). */
const local = (data: WireTensor['data'], reuse?: unknown): TypedArrayData => (ArrayBuffer.isView(data) ? ownCopy(data, reuse) : (data as unknown as TypedArrayData));

/** Inputs kept in this thread and added to every run (the weights: sent once, not with every step). */
const pinned: Feeds = {};

async function handle(session: Session, msg: ToWorker): Promise<void> {
  if (msg.kind === 'pin') {
    for (const [name, t] of Object.entries(msg.feeds)) {
      // Runs are handled one at a time, so none reads the array pinned before: a shared new version is
      // copied into it (see shared-feeds.ts).
      const prev = pinned[name];
      const data = local(t.data, prev === undefined || ArrayBuffer.isView(prev) ? prev : prev.data);
      pinned[name] = t.dims ? { data, dims: t.dims, ...(t.type ? { type: t.type } : {}) } : data;
    }
    post({ kind: 'pinned', id: msg.id });
    return;
  }
  if (msg.kind === 'release') {
    await session.release();
    post({ kind: 'released', id: msg.id });
    port.close();
    return;
  }
  try {
    const feeds: Feeds = { ...pinned };
    for (const [name, t] of Object.entries(msg.feeds)) {
      const data = local(t.data);
      feeds[name] = t.dims ? { data, dims: t.dims, ...(t.type ? { type: t.type } : {}) } : data;
    }
    const result = await session.run(feeds, msg.outputs);
    const outputs: Extract<FromWorker, { kind: 'result' }>['outputs'] = {};
    const transfer: ArrayBuffer[] = [];
    for (const [name, t] of Object.entries(result)) {
      let data = t.data as TypedArrayData | string[];
      if (ArrayBuffer.isView(data)) {
        if (!ownsWholeBuffer(data)) data = data.slice();
        transfer.push(data.buffer as ArrayBuffer);
      }
      outputs[name] = { type: t.type, dims: [...t.dims], data };
    }
    post({ kind: 'result', id: msg.id, outputs }, transfer);
  } catch (e) {
    post({ kind: 'error', id: msg.id, message: (e as Error).message, name: (e as Error).name });
  }
}

void main();
