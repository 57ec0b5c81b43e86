// A stored checkpoint version described as a CheckpointInfo, from its manifest (saveCheckpoint records
// step, epoch, stage and metrics there): ListCheckpoints lists every kept version this way, and a resumed
// job re-reads its last checkpoint from the store (the authority) rather than from job.json.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { HF_WEIGHTS, type CheckpointStore } from '@juice/checkpoint';
import { CheckpointInfoSchema, type CheckpointInfo } from '@juice/proto';

const num = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x : 0);

export function checkpointInfoOf(store: CheckpointStore, jobId: string, version: number, bestVersion?: bigint): CheckpointInfo {
  const m = store.manifest(jobId, version);
  const md = m.metadata;
  const weights = m.files.find((f) => f.path === HF_WEIGHTS);
  const metrics = Object.fromEntries(Object.entries((md.metrics ?? {}) as Record<string, unknown>).filter(([, v]) => typeof v === 'number')) as Record<string, number>;
  const dir = store.dir(jobId, version);
  return create(CheckpointInfoSchema, {
    version: BigInt(version),
    step: BigInt(num(md.step)),
    epoch: num(md.epoch),
    stage: num(md.stage),
    path: dir,
    sha256: weights?.sha256 ?? '',
    sizeBytes: BigInt(weights?.size ?? 0),
    createdAt: timestampFromDate(m.created_at ? new Date(m.created_at) : statSync(join(dir, 'manifest.json')).mtime),
    metrics,
    best: bestVersion !== undefined && bestVersion === BigInt(version),
  });
}
