// EvalTarget.model → the directory to load: an HF directory as given, or a trainer checkpoint looked up
// in the checkpoint store the trainer writes (<store>/checkpoints/<job id>/v<version>/), verified
// against its manifest before loading.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointStore } from '@juice/checkpoint';
import type { ModelSource } from '@juice/proto';
import { requestModelDir } from '@juice/data';
import { echo } from '@juice/proto';
import { failedPrecondition, invalidArgument, notFound, withField } from '@juice/service-kit';

export interface ResolvedSource {
  dir: string;
  /** The request field the directory came from (named in load errors). */
  field: string;
}

export async function resolveModelDir(source: ModelSource, storeRoot: string, field = 'target.model'): Promise<ResolvedSource> {
  const k = source.kind;
  switch (k.case) {
    case 'hfDir':
      if (k.value.length === 0) throw invalidArgument(`${field}.hf_dir`, 'must be a model directory path');
      // Under the data roots, and every file in it too (a symlinked config.json is not followed out).
      return { dir: await withField(`${field}.hf_dir`, async () => requestModelDir(k.value)), field: `${field}.hf_dir` };
    case 'checkpoint': {
      const ref = k.value;
      const f = `${field}.checkpoint`;
      if (!ref.jobId) throw invalidArgument(`${f}.job_id`, 'is required (the trainer job that saved the checkpoint)');
      if (ref.best) throw failedPrecondition(`${f}.best: the checkpoint store does not record which checkpoint is best; name its version, or pass the directory as hf_dir`);
      const root = join(storeRoot, 'checkpoints');
      if (!existsSync(root)) throw notFound(`${f}: no checkpoint store at ${root} (start the evaluator with --store set to the trainer's --store)`);
      return withField(f, async () => {
        const store = CheckpointStore.open(root);
        const version = ref.version > 0n ? Number(ref.version) : store.latest(ref.jobId);
        if (version === undefined) throw notFound(`job ${echo(ref.jobId)} has no checkpoints in ${root}`);
        // Verifies every file's hash: a corrupt checkpoint is DATA_LOSS naming the file, not a bad score.
        return { dir: store.load(ref.jobId, version).dir, field: f };
      });
    }
    default:
      throw failedPrecondition(
        `${field}: the embedded model has no fixed weights to evaluate (juice builds it per trainer job, with a tokenizer trained on that job's data); pass the job's checkpoint as ${field}.hf_dir or ${field}.checkpoint`,
      );
  }
}
