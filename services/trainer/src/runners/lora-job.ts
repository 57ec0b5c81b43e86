// The LoRA side of a trainer job (TrainingHyperparameters.lora, rank > 0): the adapters the loops train
// (fresh as PEFT initialises them, or restored from the checkpoint a resume continues), the frozen base they
// sit on (the job's model, never modified, so it is also the initial model every reference needs), and how
// the job's checkpoints and pushes carry them:
//   checkpoint   a PEFT directory (adapter_config.json + adapter_model.safetensors, PEFT tensor names) plus
//                lora_base.json naming the base (directory + weight hash) so a ModelSource.checkpoint of this
//                job resolves to base + adapter; the trainer state (optimizer moments over the adapters only,
//                cursor, step) sits next to them as for full jobs;
//   push         adapter tensors only (WeightPushHeader.lora_adapter_only, adapter_name, lora); the generator
//                keeps its base and serves the adapter under that name;
//   evaluation   the in-process held-out evaluation runs the merged weights (W + scaling·B·A).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import type { LoraTraining } from '@juice/algorithms';
import { initLora, loadPeftAdapter, mergeLora, savePeftAdapter, scoreHeadName, type LoadedModel, type LoraSpec } from '@juice/models';
import { ParamSet } from '@juice/optim';
import { LoraConfigSchema, StatusError, type JobSpec, type LoraConfig } from '@juice/proto';
import type { NamedTensors } from '@juice/weight-sync';
import { resolveLora } from '../settings/lora.js';
import { badSpec, unusableCheckpoint } from './job-error.js';
import type { RestoredTrainerState } from './trainer-state.js';

/** The file a LoRA checkpoint names its base model in. */
export const LORA_BASE_FILE = 'lora_base.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';

export interface LoraBaseRecord {
  /** The base model's directory, as the trainer resolved it (its own store, the job's directory or a data root). */
  model_dir: string;
  /** The base weights' hash (LoadedModel.sha256): a changed base is refused, not silently combined. */
  sha256: string;
}

export interface LoraJob {
  spec: LoraSpec;
  /** The trained tensors (PEFT names; a reward model's also its score head, under its HF name). */
  adapters: ParamSet;
  /** What the loops take: the spec and the frozen base (the model's own weights). */
  training: LoraTraining;
  /** The adapter's name on the generator (WeightPushHeader.adapter_name, GenerateRequest.adapter). */
  adapterName: string;
  /** Base with the adapters merged in, for the in-process held-out evaluation. */
  merged(): ParamSet;
  /** Writes this point's PEFT directory (and the base record) into a checkpoint's directory. */
  writeCheckpoint(dir: string): void;
  /** The adapter tensors of a push. */
  pushTensors(): NamedTensors;
  /** The header fields of this adapter's pushes (PushOptions.header): lora_adapter_only, adapter_name, lora. */
  pushHeader: { loraAdapterOnly: true; adapterName: string; lora: LoraConfig };
}

/** The adapter name of a job on the generator: 1..64 bytes of [A-Za-z0-9._-]. */
export function adapterNameOf(jobId: string): string {
  return `juice-${jobId}`.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64);
}

/**
 * The job's LoRA state, or undefined for a full-parameter job. `restored`: the checkpoint a resume continues.
 * `reward`: a REWARD_MODEL job's starting reward weights (backbone + score head): the adapters sit on that
 * backbone and the score head trains with them (PEFT SEQ_CLS, modules_to_save = the score head).
 */
export function loraJob(spec: JobSpec, jobId: string, model: LoadedModel, seed: number, restored: RestoredTrainerState | undefined, reward?: { params: ParamSet }): LoraJob | undefined {
  const lora = resolveLora(spec, model.config);
  if (!lora) return undefined;
  // A base that is itself base + adapter exists only in memory: an adapter trained on it could not be saved
  // as a PEFT adapter of any directory. `juice merge` writes it as a model directory to start from.
  if ('adapter' in model) throw badSpec('spec.model.checkpoint', 'is a LoRA checkpoint; a LoRA job needs a full model as its base (merge the adapter first: juice merge --base … --adapter … --out …)');
  if (reward && model.params.names.includes(scoreHeadName(model.config))) throw badSpec('spec.model', 'is a *ForSequenceClassification model; a LoRA reward model starts from a causal LM (its score head is trained with the adapters and saved in the PEFT directory)');
  const score = scoreHeadName(model.config);
  // PEFT's initialisation (A kaiming-uniform, B = 0: the adapted model starts equal to the base), seeded by the
  // job; a reward model's trained set also holds the score head, starting from the job's fresh head.
  const fresh = initLora(model.config, lora, seed);
  const adapters = reward ? new ParamSet([...fresh.entries.map((e) => ({ name: e.name, shape: [...e.shape] })), { name: score, shape: [1, model.config.hiddenSize] }]) : fresh;
  if (reward) {
    for (const e of fresh.entries) adapters.set(e.name, fresh.view(e.name));
    adapters.set(score, reward.params.view(score));
  }
  if (restored) {
    if (!restored.checkpoint.files.has(ADAPTER_WEIGHTS_FILE)) throw unusableCheckpoint(`checkpoint v${restored.checkpoint.version} holds no ${ADAPTER_WEIGHTS_FILE}: it was not written by a LoRA job (was spec.hyperparameters.lora changed?)`);
    const saved = loadPeftAdapter(restored.checkpoint.dir, model.config);
    if (saved.spec.rank !== lora.rank || saved.adapters.length !== fresh.length) throw unusableCheckpoint(`checkpoint v${restored.checkpoint.version}: its adapter (rank ${saved.spec.rank}) does not fit spec.hyperparameters.lora (rank ${lora.rank})`);
    for (const e of saved.adapters.entries) adapters.set(e.name, saved.adapters.view(e.name));
    if (reward) {
      if (!saved.scoreHead) throw unusableCheckpoint(`checkpoint v${restored.checkpoint.version}: the adapter holds no score head`);
      adapters.set(score, saved.scoreHead);
    }
  }
  const base = reward?.params ?? model.params;
  const loraOnly = () => {
    if (!reward) return adapters;
    const out = new ParamSet(fresh.entries.map((e) => ({ name: e.name, shape: [...e.shape] })));
    for (const e of out.entries) out.set(e.name, adapters.view(e.name));
    return out;
  };
  const record: LoraBaseRecord = { model_dir: model.dir, sha256: model.sha256 };
  const adapterName = adapterNameOf(jobId);
  const loraConfig = create(LoraConfigSchema, { rank: lora.rank, alpha: lora.alpha, dropout: lora.dropout ?? 0, targetModules: [...(lora.targetModules ?? [])], useRslora: lora.useRslora ?? false });
  return {
    spec: lora,
    adapters,
    training: { spec: lora, base },
    adapterName,
    merged: () => mergeLora(model.config, base, loraOnly(), lora),
    writeCheckpoint(dir) {
      savePeftAdapter(dir, model.config, { spec: lora, adapters: loraOnly(), taskType: reward ? 'SEQ_CLS' : 'CAUSAL_LM', scoreHead: reward ? adapters.view(score) : undefined, baseModelNameOrPath: model.name });
      // The checkpoint's temporary directory enters the store as a whole, so a plain write is enough.
      writeFileSync(join(dir, LORA_BASE_FILE), JSON.stringify(record, null, 2) + '\n');
    },
    pushTensors: () => new Map(adapters.entries.map((e) => [e.name, { shape: e.shape, data: adapters.view(e.name) }])),
    pushHeader: { loraAdapterOnly: true, adapterName, lora: loraConfig },
  };
}

/**
 * An adapter-only push is only the job's policy on a generator serving the job's base: every replica must
 * report the base's weight hash (ModelInfo.model_sha256), else the samples would come from another model.
 * (A base replaced later by a full push keeps its load-time hash: pushes of full weights and of a LoRA job's
 * adapter to one generator do not mix.)
 */
export async function checkServedBase(pool: { each<R>(fn: (c: { getModelInfo(req: object): Promise<{ model?: { modelSha256: string; modelPath: string } }> }) => Promise<R>): Promise<{ value: R }[]> }, model: LoadedModel): Promise<void> {
  for (const { value: { model: info } } of await pool.each((c) => c.getModelInfo({}))) {
    const value = info ?? { modelSha256: '', modelPath: '' };
    if (value.modelSha256 !== model.sha256) {
      throw new StatusError('FAILED_PRECONDITION', `a LoRA job pushes only its adapter, so the generator must serve the job's base model ${model.dir} (weights ${model.sha256.slice(0, 12)}…); it serves ${value.modelPath || 'an embedded model'} (${value.modelSha256.slice(0, 12) || 'no hash'}): start it with --model on the job's base and --max-adapters >= 1`, { retryable: false });
    }
  }
}

/** The base record of a LoRA checkpoint directory, or undefined for a full checkpoint. */
export function loraBaseOf(dir: string): LoraBaseRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, LORA_BASE_FILE), 'utf8')) as LoraBaseRecord;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw unusableCheckpoint(`${join(dir, LORA_BASE_FILE)}: unreadable (${(e as Error).message})`);
  }
}
