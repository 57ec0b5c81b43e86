// juice's trainer state, saved next to the HF weights in the same checkpoint version so that a job
// killed at any point continues bit-identically from its last checkpoint. The weights alone are not
// enough: AdamW's moments, the step (bias correction, LR schedule), the data position and, for IRFT,
// the stage's negatives and frozen reference all change the next update.
//
// Files added to the checkpoint version (all hashed by the store's manifest like the weights):
//   trainer_state.json         TrainerState below (JSON; small)
//   optimizer-<name>.bin       serializeOptimizerState of each named optimizer ("policy", "reward", ...;
//                              a REWARD_MODEL job's is "reward")
//   buffer-<name>.f32          a named flat float32 buffer in a ParamSet's layout, little-endian, padding
//                              included (e.g. "reference": IRFT's stage-start policy)
//   stage_samples.json         IRFT/SPIN (RFT: the round's) generated samples, so resume does not regenerate;
//                              at a checkpoint inside an RFT round also the round's progress (rft-round.ts)
// The juice RNG is stateless by design: every data order is a seeded permutation per epoch
// (libs/data data-order.ts), so (shuffleSeed, epoch, rowsConsumed) is the whole RNG state.
import { readFileSync } from 'node:fs';
import { create } from '@bufbuild/protobuf';
import { CheckpointError, HF_WEIGHTS, readSafetensors, type CheckpointStore, type LoadedCheckpoint } from '@juice/checkpoint';
import { validateCursor, type DataCursor } from '@juice/data';
import { deserializeOptimizerState, serializeOptimizerState, type OptimizerState, type ParamSet } from '@juice/optim';
import { DataPositionSchema, type DataPosition } from '@juice/proto';

export const TRAINER_STATE_FILE = 'trainer_state.json';
export const STAGE_SAMPLES_FILE = 'stage_samples.json';
const FORMAT = 'juice-trainer-state';
const FORMAT_VERSION = 1;
const NAME = /^[a-z0-9][a-z0-9_-]*$/;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The best checkpoint so far by the job's selection metric (carried across resumes). */
export interface BestRecord {
  metric: string;
  goal: 'minimize' | 'maximize';
  value: number;
  /** Checkpoint version holding those weights. */
  version: number;
  step: number;
}

export interface TrainerState {
  format: typeof FORMAT;
  formatVersion: typeof FORMAT_VERSION;
  /** SFT, DPO, IRFT, SPIN, RFT, REWARD_MODEL: refuses to resume a job from another algorithm's state. */
  algorithm: string;
  /** Job.config_sha256 when saved (a resumed spec may differ only in max_steps/endpoints). */
  configSha256: string;
  /** Optimizer steps completed in the whole job. */
  step: number;
  /** 0-based epoch of `cursor` (within the stage for IRFT/SPIN). */
  epoch: number;
  /** 0-based IRFT/SPIN stage or RFT round; 0 for single-phase algorithms. */
  stage: number;
  /** Optimizer steps completed within `stage` (= step for single-phase algorithms). */
  stageStep: number;
  /** Position of the data order that the next step continues (the stage's order for IRFT/SPIN). */
  cursor: DataCursor;
  rng: {
    /** The job's seed (TrainingHyperparameters.seed, 0 → 42). */
    seed: number;
    /** Whether the order shuffles (no_shuffle = false). */
    shuffle: boolean;
    /** Other seeds a runner derives (e.g. sampling seed of the round), by name. */
    extra?: Record<string, number>;
  };
  /** Training tokens processed so far (decimal string: may exceed 2^53). */
  tokens: string;
  /** Latest step metrics at save time. */
  metrics: Record<string, number>;
  best?: BestRecord;
  /** Whether stage_samples.json holds this stage's generated samples (DataPosition.stage_samples_ready). */
  stageSamplesReady: boolean;
  /** Which extra files this version holds, by role. */
  files: { optimizers: Record<string, string>; buffers: Record<string, { file: string; length: number }>; stageSamples?: string };
  /** Runner-specific JSON (e.g. RFT running reward moments, KL controller). */
  extra?: Record<string, unknown>;
}

/** Generated samples of the current stage/round, aligned with the runner's own pair list. */
export interface StageSamples {
  /** Weight version that generated them. */
  weightVersion: string;
  /** One entry per pair: the sample's response token ids (IRFT/SPIN: [i·k + j] = sample j of the stage's demonstration i). */
  responses: number[][];
  truncated?: boolean[];
  /** Runner-specific (e.g. RFT scores). */
  extra?: Record<string, unknown>;
}

export interface TrainerStateParts {
  state: Omit<TrainerState, 'format' | 'formatVersion' | 'files' | 'stageSamplesReady'>;
  /** Named optimizers; the policy's is conventionally "policy". */
  optimizers?: Record<string, OptimizerState>;
  /** Named flat buffers (e.g. "reference": the frozen reference policy's ParamSet data). */
  buffers?: Record<string, Float32Array>;
  stageSamples?: StageSamples;
}

export interface RestoredTrainerState {
  state: TrainerState;
  optimizers: Record<string, OptimizerState>;
  buffers: Record<string, Float32Array>;
  stageSamples?: StageSamples;
  /** The verified checkpoint version (weights by checkpoint.files). */
  checkpoint: LoadedCheckpoint;
}

function checkName(kind: string, name: string): void {
  if (!NAME.test(name)) throw new Error(`trainer state ${kind} name "${name}" must match ${NAME.source}`);
}

function f32Bytes(buf: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  const out = new Uint8Array(buf.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < buf.length; i++) dv.setFloat32(4 * i, buf[i]!, true);
  return out;
}

function f32From(bytes: Uint8Array, length: number, file: string): Float32Array {
  if (bytes.byteLength !== length * 4) throw new CheckpointError('DATA_LOSS', `${file} has ${bytes.byteLength} bytes, trainer_state.json says ${length} float32 values`);
  const out = new Float32Array(length);
  if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(bytes);
  else {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < length; i++) out[i] = dv.getFloat32(4 * i, true);
  }
  return out;
}

/** The files to add to a checkpoint version (pass as saveCheckpoint's extra files). */
export function encodeTrainerState(parts: TrainerStateParts): Record<string, Uint8Array | string> {
  const files: Record<string, Uint8Array | string> = {};
  const index: TrainerState['files'] = { optimizers: {}, buffers: {} };
  for (const [name, opt] of Object.entries(parts.optimizers ?? {})) {
    checkName('optimizer', name);
    const file = `optimizer-${name}.bin`;
    files[file] = serializeOptimizerState(opt);
    index.optimizers[name] = file;
  }
  for (const [name, buf] of Object.entries(parts.buffers ?? {})) {
    checkName('buffer', name);
    const file = `buffer-${name}.f32`;
    files[file] = f32Bytes(buf);
    index.buffers[name] = { file, length: buf.length };
  }
  if (parts.stageSamples) {
    files[STAGE_SAMPLES_FILE] = JSON.stringify(parts.stageSamples);
    index.stageSamples = STAGE_SAMPLES_FILE;
  }
  const state: TrainerState = { format: FORMAT, formatVersion: FORMAT_VERSION, ...parts.state, stageSamplesReady: parts.stageSamples !== undefined, files: index };
  files[TRAINER_STATE_FILE] = JSON.stringify(state, null, 1) + '\n';
  return files;
}

function parseState(text: string, where: string): TrainerState {
  let s: TrainerState;
  try {
    s = JSON.parse(text) as TrainerState;
  } catch (e) {
    throw new CheckpointError('DATA_LOSS', `${where} is not JSON: ${(e as Error).message}`);
  }
  if (s.format !== FORMAT) throw new CheckpointError('DATA_LOSS', `${where}: format "${String(s.format)}" is not "${FORMAT}"`);
  if (s.formatVersion !== FORMAT_VERSION) throw new CheckpointError('FAILED_PRECONDITION', `${where}: trainer state format version ${s.formatVersion} is not supported (this trainer reads ${FORMAT_VERSION})`);
  for (const k of ['step', 'epoch', 'stage', 'stageStep'] as const) {
    if (!Number.isSafeInteger(s[k]) || s[k] < 0) throw new CheckpointError('DATA_LOSS', `${where}: ${k} must be a non-negative integer, got ${String(s[k])}`);
  }
  return s;
}

/** Reads and verifies (hashes) one checkpoint version's trainer state. */
export function readTrainerState(store: CheckpointStore, jobId: string, version: number): RestoredTrainerState {
  const checkpoint = store.load(jobId, version);
  const path = (rel: string) => {
    const p = checkpoint.files.get(rel);
    if (!p) throw new CheckpointError('NOT_FOUND', `checkpoint ${jobId} v${version} has no ${rel} (saved by a trainer without resumable state?)`);
    return p;
  };
  const statePath = path(TRAINER_STATE_FILE);
  const state = parseState(readFileSync(statePath, 'utf8'), statePath);
  const optimizers: Record<string, OptimizerState> = {};
  for (const [name, file] of Object.entries(state.files.optimizers)) optimizers[name] = deserializeOptimizerState(readFileSync(path(file)));
  const buffers: Record<string, Float32Array> = {};
  for (const [name, b] of Object.entries(state.files.buffers)) buffers[name] = f32From(readFileSync(path(b.file)), b.length, path(b.file));
  const stageSamples = state.files.stageSamples ? (JSON.parse(readFileSync(path(state.files.stageSamples), 'utf8')) as StageSamples) : undefined;
  return { state, optimizers, buffers, stageSamples, checkpoint };
}

/**
 * The version to resume from: `requested` if given (it must hold trainer state), else the newest version
 * that holds trainer state. The store, not Job.last_checkpoint, is the authority: a kill between
 * publishing a version and rewriting job.json leaves the record one version behind.
 */
export function resumableVersion(store: CheckpointStore, jobId: string, requested?: number): number | undefined {
  if (requested) {
    if (!store.list(jobId).includes(requested)) throw new CheckpointError('NOT_FOUND', `checkpoint_version ${requested} of job "${jobId}" does not exist (versions: [${store.list(jobId).join(', ')}])`);
    return requested;
  }
  for (const v of store.list(jobId).reverse()) {
    if (store.manifest(jobId, v).files.some((f) => f.path === TRAINER_STATE_FILE)) return v;
  }
  return undefined;
}

/** Copies the checkpoint's float32 weights into `params` exactly (every tensor must be present). */
export function restoreWeights(params: ParamSet, checkpoint: LoadedCheckpoint): void {
  const file = checkpoint.files.get(HF_WEIGHTS);
  if (!file) throw new CheckpointError('NOT_FOUND', `checkpoint ${checkpoint.namespace} v${checkpoint.version} has no ${HF_WEIGHTS}`);
  const { tensors } = readSafetensors(file);
  const record: Record<string, Float32Array> = {};
  for (const [name, t] of tensors) {
    // A resume must be exact: half-precision checkpoints cannot continue bit-identically.
    if (t.dtype !== 'F32' || !(t.data instanceof Float32Array)) throw new CheckpointError('FAILED_PRECONDITION', `${file}: tensor "${name}" is ${t.dtype}; resuming needs float32 weights`);
    record[name] = t.data;
  }
  params.load(record);
}

/** Copies a saved flat buffer (e.g. the reference policy) into a ParamSet of the same layout. */
export function restoreBuffer(params: ParamSet, restored: RestoredTrainerState, name: string): boolean {
  const b = restored.buffers[name];
  if (!b) return false;
  if (b.length !== params.length) throw new CheckpointError('FAILED_PRECONDITION', `trainer state buffer "${name}" has ${b.length} values, the model's parameter buffer ${params.length}`);
  params.data.set(b);
  return true;
}

/** Checks that a saved cursor fits the dataset the resumed run built. */
export function checkCursor(state: TrainerState, datasetSize: number): DataCursor {
  validateCursor(state.cursor, datasetSize);
  return { ...state.cursor };
}

/** Job.data_position for a state. */
export function dataPositionOf(state: Pick<TrainerState, 'epoch' | 'stage' | 'cursor'>, stageSamplesReady: boolean): DataPosition {
  return create(DataPositionSchema, {
    epoch: state.epoch,
    stage: state.stage,
    rowsConsumed: BigInt(state.cursor.rowsConsumed),
    shuffleSeed: BigInt(state.cursor.shuffleSeed + state.cursor.epoch),
    stageSamplesReady,
  });
}
