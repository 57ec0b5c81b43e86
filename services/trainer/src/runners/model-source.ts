// The model a job starts from: a Hugging Face directory, or the embedded default, which juice creates
// in the job's directory with a tokenizer trained on the job's own demonstrations (nothing downloaded).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createDefaultModel, loadModel, type LoadedModel } from '@juice/models';
import type { ModelSource } from '@juice/proto';
import { failedPrecondition, invalidArgument } from '@juice/service-kit';

export function resolveModel(source: ModelSource | undefined, jobDir: string, corpus: () => string[], seed: number): LoadedModel {
  const kind = source?.kind.case;
  if (kind === 'hfDir') return loadModel(source!.kind.value as string);
  if (kind === 'checkpoint') throw failedPrecondition('spec.model.checkpoint: starting from a checkpoint reference is not supported yet; pass its directory as spec.model.hf_dir');
  if (kind === 'embedded' && source!.kind.value.name && source!.kind.value.name !== 'juice-tiny') throw invalidArgument('spec.model.embedded.name', `unknown embedded model "${source!.kind.value.name}" (available: juice-tiny)`);
  const dir = join(jobDir, 'base-model');
  if (!existsSync(join(dir, 'config.json'))) createDefaultModel(dir, { corpus: corpus(), seed });
  return loadModel(dir);
}
