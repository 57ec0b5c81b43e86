// A job's weights as a checkpoint: an HF directory (config, safetensors, tokenizer files) written into
// the versioned store atomically with hashes, recorded on the job and announced on its event stream.
// `extra` (optional) adds files to the same version (juice's trainer state, trainer-state.ts) and the
// position/best flags that the job record carries; callers that pass only five arguments are unchanged.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import { saveHfDir, type CheckpointStore } from '@juice/checkpoint';
import { configToHf, type LoadedModel } from '@juice/models';
import { CheckpointInfoSchema, type CheckpointInfo, type DataPosition } from '@juice/proto';
import type { RunContext } from '../job-manager.js';

export interface CheckpointExtras {
  /** More files for the version, e.g. encodeTrainerState(...). */
  files?: Record<string, Uint8Array | string>;
  epoch?: number;
  stage?: number;
  /** Job.data_position at this checkpoint. */
  dataPosition?: DataPosition;
  /** The version to write (default: the store's latest + 1); set when the caller recorded it in the files. */
  version?: number;
  /** Metrics to record instead of the job's latest (e.g. with this evaluation's). */
  metrics?: Record<string, number>;
  /** This checkpoint becomes Job.best_checkpoint. */
  best?: boolean;
  /** Weights to write instead of model.params (a reward model: backbone + score.weight). */
  params?: LoadedModel['params'];
  /** config.json to write instead of the model's (a reward model: *ForSequenceClassification, num_labels 1). */
  config?: Record<string, unknown>;
  /** Writes the weight files instead of an HF model (a LoRA job: its PEFT adapter directory); tokenizer files are still added. */
  writeWeights?: (dir: string) => void;
}

export async function saveCheckpoint(ctx: RunContext, store: CheckpointStore, model: LoadedModel, step: number, algorithm: string, extra: CheckpointExtras = {}): Promise<CheckpointInfo> {
  const tmp = mkdtempSync(join(tmpdir(), 'juice-ckpt-'));
  try {
    if (extra.writeWeights) {
      extra.writeWeights(tmp);
      for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) {
        try {
          writeFileSync(join(tmp, f), readFileSync(join(model.dir, f)));
        } catch {
          // not every tokenizer has every file (saveHfDir's extraFiles skip them alike)
        }
      }
    } else saveHfDir(tmp, {
      config: extra.config ?? configToHf(model.config, { _name_or_path: `juice-${algorithm.toLowerCase()}-${ctx.job.id}` }),
      tensors: (extra.params ?? model.params).entries.map((e) => [e.name, { shape: e.shape, data: (extra.params ?? model.params).view(e.name) }] as [string, { shape: readonly number[]; data: Float32Array }]),
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
    const version = extra.version ?? (store.latest(ctx.job.id) ?? 0) + 1;
    const metrics = extra.metrics ?? ctx.job.latestMetrics;
    const files = { ...Object.fromEntries(readdirSync(tmp).map((f) => [f, readFileSync(join(tmp, f))])), ...extra.files };
    const manifest = store.save(ctx.job.id, version, { files, metadata: { step, algorithm, epoch: extra.epoch ?? 0, stage: extra.stage ?? 0, metrics } });
    const weights = manifest.files.find((f) => f.path === 'model.safetensors' || f.path === 'adapter_model.safetensors');
    const info = create(CheckpointInfoSchema, { version: BigInt(version), step: BigInt(step), epoch: extra.epoch ?? 0, stage: extra.stage ?? 0, path: store.dir(ctx.job.id, version), sha256: weights?.sha256 ?? '', sizeBytes: BigInt(weights?.size ?? 0), createdAt: timestampNow(), metrics, best: extra.best ?? false });
    ctx.job.lastCheckpoint = info;
    if (extra.best) ctx.job.bestCheckpoint = info;
    if (extra.dataPosition) ctx.job.dataPosition = extra.dataPosition;
    ctx.save();
    ctx.emit({ case: 'checkpointSaved', value: { checkpoint: info } });
    return info;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
