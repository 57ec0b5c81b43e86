// Thread body of loadModelOffThread: reads and hashes the weight files (synchronous, seconds for a large
// checkpoint) here, so the evaluator's event loop keeps answering health checks and streams meanwhile.
import { parentPort, workerData } from 'node:worker_threads';
import { loadModel, loadModelWithAdapter, type PeftAdapter } from '@juice/models';
import type { LoadReply } from './load-off-thread.js';

const { dir, adapterDir } = workerData as { dir: string; adapterDir?: string };
let reply: LoadReply;
let transfer: ArrayBuffer[] = [];
try {
  // With an adapter: the base with it merged (W + scaling·B·A), computed on like any checkpoint.
  const m = adapterDir ? loadModelWithAdapter(dir, adapterDir) : loadModel(dir);
  const adapter = (m as { adapter?: PeftAdapter }).adapter;
  reply = {
    ...(adapter ? { adapter: { spec: adapter.spec, sha256: adapter.sha256 } } : {}),
    ok: true,
    dir: m.dir,
    name: m.name,
    config: m.config,
    files: m.files,
    sha256: m.sha256,
    shapes: m.params.entries.map((e) => ({ name: e.name, shape: [...e.shape] })),
    alignment: m.params.alignment,
    data: m.params.data,
  };
  transfer = [m.params.data.buffer as ArrayBuffer];
} catch (e) {
  reply = { ok: false, message: (e as Error).message, grpcCode: (e as { grpcCode?: string }).grpcCode };
}
parentPort!.postMessage(reply, transfer);
