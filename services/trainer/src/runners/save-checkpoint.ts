// A job's weights as a checkpoint: an HF directory (config, safetensors, tokenizer files) written into
// the versioned store atomically with hashes, recorded on the job and announced on its event stream.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import { saveHfDir, type CheckpointStore } from '@juice/checkpoint';
import { configToHf, type LoadedModel } from '@juice/models';
import { CheckpointInfoSchema } from '@juice/proto';
import type { RunContext } from '../job-manager.js';

export async function saveCheckpoint(ctx: RunContext, store: CheckpointStore, model: LoadedModel, step: number, algorithm: string): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'juice-ckpt-'));
  try {
    saveHfDir(tmp, {
      config: configToHf(model.config, { _name_or_path: `juice-${algorithm.toLowerCase()}-${ctx.job.id}` }),
      tensors: model.params.entries.map((e) => [e.name, { shape: e.shape, data: model.params.view(e.name) }] as [string, { shape: readonly number[]; data: Float32Array }]),
      extraFiles: Object.fromEntries(
        ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'].flatMap((f) => {
          try {
            return [[f, readFileSync(join(model.dir, f))]];
          } catch {
            return [];
          }
        }),
      ),
    });
    const version = (store.latest(ctx.job.id) ?? 0) + 1;
    const manifest = store.save(ctx.job.id, version, { files: Object.fromEntries(readdirSync(tmp).map((f) => [f, readFileSync(join(tmp, f))])), metadata: { step, algorithm } });
    const weights = manifest.files.find((f) => f.path === 'model.safetensors');
    const info = create(CheckpointInfoSchema, { version: BigInt(version), step: BigInt(step), path: store.dir(ctx.job.id, version), sha256: weights?.sha256 ?? '', sizeBytes: BigInt(weights?.size ?? 0), createdAt: timestampNow(), metrics: ctx.job.latestMetrics });
    ctx.job.lastCheckpoint = info;
    ctx.save();
    ctx.emit({ case: 'checkpointSaved', value: { checkpoint: info } });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
