// The thread that runs generation: it owns both sessions, the weights and the KV cache, and streams
// tokens back as messages. The service thread stays free for gRPC, health checks and cancellation.
import { parentPort, workerData } from 'node:worker_threads';
import { createSession } from '../session.js';
import type { Feeds } from '../tensor.js';
import { BatchEngine } from './batch-engine.js';
import { ownCopy } from '../shared-feeds.js';
import type { EngineWorkerInit, FromEngine, ToEngine, WeightSetWire } from './engine-protocol.js';

const port = parentPort!;
const post = (m: FromEngine) => port.postMessage(m);
const dataOf = (f: Feeds[string] | undefined): unknown => (f === undefined || ArrayBuffer.isView(f) ? f : f.data);
const ownTensors = (w: WeightSetWire, reuse?: Feeds): WeightSetWire => ({
  ...w,
  tensors: Object.fromEntries(Object.entries(w.tensors).map(([n, t]) => [n, { data: ownCopy(t.data, dataOf(reuse?.[n])), dims: t.dims }])),
});
const feedsOf = (w: WeightSetWire): Feeds => Object.fromEntries(Object.entries(w.tensors).map(([n, t]) => [n, { data: t.data, dims: t.dims }]));

async function main(): Promise<void> {
  const init = workerData as EngineWorkerInit;
  let engine: BatchEngine;
  // The newest weight set's feeds: a partial set (adapter push) is layered over it.
  let latest: Feeds;
  try {
    const [prefill, decode] = await Promise.all([createSession(init.prefill, init.session), createSession(init.decode, init.session)]);
    latest = feedsOf(init.weights);
    engine = new BatchEngine(prefill, decode, init.spec, { label: init.weights.label, feeds: latest, lora: init.weights.lora }, init.engine);
  } catch (e) {
    post({ kind: 'init-error', message: (e as Error).message });
    return;
  }
  const rows = new Map<number, { abort: AbortController; stop: () => void }>();
  port.on('message', (m: ToEngine) => {
    if (m.kind === 'submit') {
      const abort = new AbortController();
      let stopRequested = false;
      rows.set(m.id, { abort, stop: () => (stopRequested = true) });
      engine
        .submit({
          ...m.req,
          signal: abort.signal,
          onToken: (token, logprob, top) => {
            post({ kind: 'token', id: m.id, token, logprob, ...(top ? { top } : {}) });
            // A stop decided by the service (stop string) ends the row at its next token.
            return stopRequested;
          },
        })
        .then((result) => post({ kind: 'done', id: m.id, result }))
        .catch((e: Error & { grpcCode?: string }) => post({ kind: 'error', id: m.id, message: e.message, grpcCode: e.grpcCode }))
        .finally(() => rows.delete(m.id));
    } else if (m.kind === 'stop') {
      const row = rows.get(m.id);
      if (m.reason === 'cancelled') row?.abort.abort();
      else row?.stop();
    } else if (m.kind === 'weights') {
      // Shared tensors are copied into this thread's memory (ORT refuses shared memory); while nothing
      // computes, into the arrays of the latest set, which no one reads any more (see shared-feeds.ts).
      const reuse = engine.busy ? undefined : latest;
      const own = ownTensors(m.weights, reuse);
      latest = m.weights.partial ? { ...latest, ...feedsOf(own) } : feedsOf(own);
      engine.setWeights({ label: m.weights.label, feeds: latest, lora: m.weights.lora });
      post({ kind: 'weights-taken' });
    } else if (m.kind === 'close') {
      port.close();
    }
  });
  setInterval(() => post({ kind: 'stats', queueDepth: engine.queueDepth, activeRows: engine.activeRows, steps: engine.steps }), 1000).unref();
  post({ kind: 'ready' });
}

void main();
