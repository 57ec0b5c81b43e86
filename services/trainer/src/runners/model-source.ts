// The model a job starts from: a Hugging Face directory, a checkpoint of another trainer job (looked up in
// this trainer's checkpoint store, <store>/checkpoints/<job id>/v<version>, verified against its manifest),
// or the embedded default, which juice creates in the job's directory with a tokenizer trained on the
// job's own demonstrations (nothing downloaded). ModelSource.expected_sha256 pins the weights.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointStore } from '@juice/checkpoint';
import { fileDigest, requestModelDir } from '@juice/data';
import { createDefaultModel, loadModel, type LoadedModel } from '@juice/models';
import type { ModelSource } from '@juice/proto';
import { failedPrecondition, invalidArgument, notFound } from '@juice/service-kit';
import { unusableCheckpoint as unusableModel } from './job-error.js';

/** The directory of a checkpoint reference in the store under `checkpointRoot` (manifest verified). */
export function checkpointDir(ref: { jobId: string; version: bigint; best: boolean }, checkpointRoot: string, field = 'spec.model.checkpoint'): string {
  // StartJob pins `best` and "latest" (version 0) to a version, so a job (and its resumes) keeps its model.
  if (ref.best) throw failedPrecondition(`${field}.best: not pinned to a version (StartJob records the best checkpoint's version)`);
  const store = CheckpointStore.open(checkpointRoot);
  const version = ref.version > 0n ? Number(ref.version) : store.latest(ref.jobId);
  if (version === undefined) throw notFound(`${field}: job "${ref.jobId}" has no checkpoints in this trainer's store`);
  if (!store.list(ref.jobId).includes(version)) throw notFound(`${field}.version: job "${ref.jobId}" has no checkpoint v${version} (kept: ${store.list(ref.jobId).join(', ') || 'none'})`);
  return store.load(ref.jobId, version).dir;
}

export function resolveModel(source: ModelSource | undefined, jobDir: string, corpus: () => string[], seed: number, storeRoot?: string): LoadedModel {
  const kind = source?.kind.case;
  let model: LoadedModel;
  // A request-named directory: under the data roots, every file in it too (path-roots.ts).
  if (kind === 'hfDir') model = loadModel(requestModelDir(source!.kind.value as string, 'spec.model.hf_dir'));
  else if (kind === 'checkpoint') {
    if (!storeRoot) throw failedPrecondition('spec.model.checkpoint: this runner has no checkpoint store');
    model = loadModel(checkpointDir(source!.kind.value as { jobId: string; version: bigint; best: boolean }, join(storeRoot, 'checkpoints')));
  } else {
    if (kind === 'embedded' && source!.kind.value.name && source!.kind.value.name !== 'juice-tiny') throw invalidArgument('spec.model.embedded.name', `unknown embedded model "${source!.kind.value.name}" (available: juice-tiny)`);
    const dir = join(jobDir, 'base-model');
    if (!existsSync(join(dir, 'config.json'))) createDefaultModel(dir, { corpus: corpus(), seed });
    model = loadModel(dir);
  }
  if (source?.expectedSha256 && source.expectedSha256 !== model.sha256) {
    throw unusableModel(`spec.model.expected_sha256: the model's weights hash to ${model.sha256}, expected ${source.expectedSha256}`);
  }
  return model;
}

/** SHA-256 and size of every file directly in a model directory (weights, config, tokenizer), by name. */
export async function modelDirDigests(requested: string, signal?: AbortSignal): Promise<{ path: string; sha256: string; sizeBytes: number }[]> {
  const dir = requestModelDir(requested, 'spec.model.hf_dir');
  const names = readdirSync(dir)
    .filter((n) => statSync(join(dir, n)).isFile())
    .sort();
  const out = [];
  for (const n of names) out.push(await fileDigest(join(dir, n), signal));
  return out;
}
