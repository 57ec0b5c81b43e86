// loadModel in a worker thread: the weights come back as one transferred buffer (no copy on the way),
// only the tokenizer is parsed here (it is not transferable).
import { Worker } from 'node:worker_threads';
import { Tokenizer } from '@juice/checkpoint';
import type { LoadedModel, LoraSpec, ModelConfig } from '@juice/models';
import { ParamSet } from '@juice/optim';

export type LoadReply =
  | {
      ok: true;
      dir: string;
      name: string;
      config: ModelConfig;
      files: LoadedModel['files'];
      sha256: string;
      shapes: { name: string; shape: number[] }[];
      alignment: number;
      data: Float32Array;
      /** Set when a PEFT adapter was merged in: its settings and adapter_model.safetensors' hash. */
      adapter?: { spec: LoraSpec; sha256: string };
    }
  | { ok: false; message: string; grpcCode?: string };

const ENTRY = new URL('./load-worker-bootstrap.mjs', import.meta.url);

/** The model in `dir`, with the PEFT adapter in `adapterDir` merged in when given. */
export async function loadModelOffThread(dir: string, adapterDir?: string): Promise<LoadedModel & { adapter?: { spec: LoraSpec; sha256: string } }> {
  const worker = new Worker(ENTRY, { workerData: { dir, adapterDir } });
  let reply: LoadReply;
  try {
    reply = await new Promise<LoadReply>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the model-loading thread exited (code ${code}) before answering`)));
    });
  } finally {
    void worker.terminate();
  }
  if (!reply.ok) throw Object.assign(new Error(reply.message), reply.grpcCode ? { grpcCode: reply.grpcCode } : {});
  const params = new ParamSet(reply.shapes, { alignment: reply.alignment });
  params.data.set(reply.data);
  return { dir: reply.dir, name: reply.name, config: reply.config, params, tokenizer: Tokenizer.fromDir(dir), files: reply.files, sha256: reply.sha256, ...(reply.adapter ? { adapter: reply.adapter } : {}) };
}
