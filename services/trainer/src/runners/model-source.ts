// The model a job starts from: a Hugging Face directory, a checkpoint of another trainer job (looked up in
// the job manager's checkpoint store, verified against its manifest), or the embedded default, which
// juice creates in the job's directory with a tokenizer trained on the job's own demonstrations (nothing
// downloaded). ModelSource.expected_sha256 pins the weights. A reward-model job reads the same source as
// reward weights (a *ForSequenceClassification directory as it is, a causal LM with a fresh head).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { CheckpointStore } from '@juice/checkpoint';
import { fileDigest, requestModelDir } from '@juice/data';
import { createHash } from 'node:crypto';
import { createDefaultModel, loadModel, loadModelWithAdapter, type LoadedModel } from '@juice/models';
import type { ParamSet } from '@juice/optim';
import type { ModelSource } from '@juice/proto';
import { loadRewardParams, rewardParamsFromLm } from './reward-weights.js';
import { failedPrecondition, invalidArgument, notFound } from '@juice/service-kit';
import { unusableCheckpoint as unusableModel } from './job-error.js';
import { loraBaseOf } from './lora-job.js';

/** The directory of a checkpoint reference in the trainer's store (manifest verified). */
export function checkpointDir(ref: { jobId: string; version: bigint; best: boolean }, store: CheckpointStore, field = 'spec.model.checkpoint'): string {
  // StartJob pins `best` and "latest" (version 0) to a version, so a job (and its resumes) keeps its model.
  if (ref.best) throw failedPrecondition(`${field}.best: not pinned to a version (StartJob records the best checkpoint's version)`);
  const version = ref.version > 0n ? Number(ref.version) : store.latest(ref.jobId);
  if (version === undefined) throw notFound(`${field}: job "${ref.jobId}" has no checkpoints in this trainer's store`);
  if (!store.list(ref.jobId).includes(version)) throw notFound(`${field}.version: job "${ref.jobId}" has no checkpoint v${version} (kept: ${store.list(ref.jobId).join(', ') || 'none'})`);
  return store.load(ref.jobId, version).dir;
}

export function resolveModel(source: ModelSource | undefined, jobDir: string, corpus: () => string[], seed: number, store: CheckpointStore): LoadedModel {
  const kind = source?.kind.case;
  let model: LoadedModel;
  // A request-named directory: under the data roots, every file in it too (path-roots.ts).
  if (kind === 'hfDir') model = loadModel(requestModelDir(source!.kind.value as string, 'spec.model.hf_dir'));
  else if (kind === 'checkpoint') model = loadCheckpointModel(checkpointDir(source!.kind.value as { jobId: string; version: bigint; best: boolean }, store));
  else {
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

/**
 * A checkpoint of this trainer's store as a model: an HF directory as it is; a LoRA job's PEFT checkpoint as
 * its base with the adapter merged in (lora_base.json names the base, whose weights must still hash as they
 * did when the adapter was trained).
 */
export function loadCheckpointModel(dir: string): LoadedModel {
  const base = loraBaseOf(dir);
  if (!base) return loadModel(dir);
  const m = loadModelWithAdapter(base.model_dir, dir);
  const expected = createHash('sha256').update(base.sha256 + m.adapter.sha256).digest('hex');
  if (m.sha256 !== expected) throw unusableModel(`${dir}: the LoRA adapter's base ${base.model_dir} has changed since the adapter was trained (its weights no longer hash to ${base.sha256})`);
  return m;
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

/** The job's model as reward weights: a reward directory as it is; a causal LM or the embedded default with a fresh seeded head. */
export function resolveRewardWeights(source: ModelSource | undefined, jobDir: string, corpus: () => string[], seed: number, store: CheckpointStore): { model: LoadedModel; params: ParamSet } {
  if (source?.kind.case === 'hfDir') return loadRewardParams(requestModelDir(source.kind.value, 'spec.model.hf_dir'), seed);
  if (source?.kind.case === 'checkpoint') return loadRewardParams(checkpointDir(source.kind.value, store), seed);
  const model = resolveModel(source, jobDir, corpus, seed, store);
  return { model, params: rewardParamsFromLm(model, seed) };
}
