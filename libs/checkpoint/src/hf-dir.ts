// A Hugging Face model directory: config.json, model.safetensors or shards listed in
// model.safetensors.index.json, tokenizer files. What juice writes loads in transformers by tensor name,
// and what transformers writes loads here; errors name the file and the tensor.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointError } from './errors.js';
import { sha256File } from './file-hash.js';
import { SafetensorsFile, ST_DTYPE_BYTES, writeSafetensors, type StDtype, type StTensor } from './safetensors.js';
import { describeJsonError } from '@juice/proto';

export interface HfFileRecord {
  path: string;
  sha256: string;
  sizeBytes: number;
}

export interface HfModelFiles {
  dir: string;
  config: Record<string, unknown>;
  tensors: Map<string, StTensor>;
  /** The safetensors file each tensor came from. */
  tensorFiles: Map<string, string>;
  /** Every file read, with its SHA-256 (recorded by jobs for reproducibility). */
  files: HfFileRecord[];
}

export interface LoadHfOptions {
  /** Every tensor here must be present with this shape; all problems are reported at once, each by name and file. */
  expectTensors?: ReadonlyMap<string, readonly number[]>;
}

export const HF_CONFIG = 'config.json';
export const HF_WEIGHTS = 'model.safetensors';
export const HF_INDEX = 'model.safetensors.index.json';
/** Tokenizer and generation files recorded (hashed) with a model when present. */
export const HF_SIDE_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json', 'chat_template.jinja'] as const;
const SHARD_NAME = /^model-\d{5}-of-\d{5}\.safetensors$/;

function readJsonObject(path: string, what: string): Record<string, unknown> {
  if (!existsSync(path)) throw new CheckpointError('NOT_FOUND', `${path} is missing: ${what}`);
  let json: unknown;
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
    json = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text; a role reading a file for a caller must not send it back.
    throw new CheckpointError('INVALID_ARGUMENT', `${path} is ${describeJsonError(text)}`);
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new CheckpointError('INVALID_ARGUMENT', `${path} must hold a JSON object`);
  return json as Record<string, unknown>;
}

/** The weight files of `dir` and which tensor each should hold (from the index, when sharded). */
function weightLayout(dir: string): { files: string[]; indexPath?: string; listed: Map<string, string> } {
  const indexPath = join(dir, HF_INDEX);
  const listed = new Map<string, string>();
  if (existsSync(indexPath)) {
    const index = readJsonObject(indexPath, 'the shard index');
    const map = index.weight_map;
    if (!map || typeof map !== 'object' || Array.isArray(map)) throw new CheckpointError('INVALID_ARGUMENT', `${indexPath}: needs a "weight_map" object {tensor name: shard file}`);
    for (const [name, file] of Object.entries(map as Record<string, unknown>)) {
      if (typeof file !== 'string' || file.includes('/') || file.includes('\\')) {
        throw new CheckpointError('INVALID_ARGUMENT', `${indexPath}: tensor "${name}" maps to ${JSON.stringify(file)}, expected a file name in ${dir}`);
      }
      listed.set(name, join(dir, file));
    }
    const files = [...new Set(listed.values())].sort();
    for (const f of files) if (!existsSync(f)) throw new CheckpointError('NOT_FOUND', `${f} (listed in ${indexPath}) is missing`);
    return { files, indexPath, listed };
  }
  const single = join(dir, HF_WEIGHTS);
  if (!existsSync(single)) {
    const others = readdirSync(dir).filter((f) => f.endsWith('.bin') || f.endsWith('.pt') || f.endsWith('.pth'));
    const hint = others.length ? `; found ${others.join(', ')}: convert PyTorch pickle checkpoints to safetensors first` : '';
    throw new CheckpointError('NOT_FOUND', `${dir} has no ${HF_WEIGHTS} (or ${HF_INDEX})${hint}`);
  }
  return { files: [single], listed };
}

const record = (path: string): HfFileRecord => ({ path, ...sha256File(path) });

/** Loads config and weights (floats as Float32Array). Pass a Map as the second argument as shorthand for `expectTensors`. */
export function loadHfDir(dir: string, options: LoadHfOptions | ReadonlyMap<string, readonly number[]> = {}): HfModelFiles {
  const o: LoadHfOptions = options instanceof Map ? { expectTensors: options } : (options as LoadHfOptions);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new CheckpointError('NOT_FOUND', `model directory ${dir} does not exist`);
  const configPath = join(dir, HF_CONFIG);
  const config = readJsonObject(configPath, 'a model directory needs its config.json (the architecture and sizes)');
  const layout = weightLayout(dir);
  const files: HfFileRecord[] = [record(configPath)];
  if (layout.indexPath) files.push(record(layout.indexPath));
  const tensors = new Map<string, StTensor>();
  const tensorFiles = new Map<string, string>();
  for (const path of layout.files) {
    const st = SafetensorsFile.open(path);
    try {
      for (const name of st.names) {
        const listedIn = layout.listed.get(name);
        // transformers loads every tensor of every shard; one the index places elsewhere is a stray copy.
        if (listedIn !== undefined && listedIn !== path) {
          throw new CheckpointError('INVALID_ARGUMENT', `tensor "${name}" is in ${path} but ${layout.indexPath} places it in ${listedIn}`);
        }
        const before = tensorFiles.get(name);
        if (before !== undefined) throw new CheckpointError('INVALID_ARGUMENT', `tensor "${name}" is in both ${before} and ${path}`);
        tensors.set(name, st.read(name));
        tensorFiles.set(name, path);
      }
    } finally {
      st.close();
    }
    files.push(record(path));
  }
  for (const [name, path] of layout.listed) {
    if (!tensors.has(name)) throw new CheckpointError('DATA_LOSS', `tensor "${name}" is listed in ${layout.indexPath} for ${path} but ${path} does not hold it`);
  }
  if (o.expectTensors) checkExpected(dir, layout.files, tensors, tensorFiles, o.expectTensors);
  for (const side of HF_SIDE_FILES) {
    const p = join(dir, side);
    if (existsSync(p)) files.push(record(p));
  }
  return { dir, config, tensors, tensorFiles, files };
}

function checkExpected(dir: string, weightFiles: string[], tensors: Map<string, StTensor>, tensorFiles: Map<string, string>, expect: ReadonlyMap<string, readonly number[]>): void {
  const problems: string[] = [];
  const searched = weightFiles.length === 1 ? weightFiles[0]! : `${weightFiles.length} shards in ${dir}`;
  for (const [name, shape] of expect) {
    const t = tensors.get(name);
    if (!t) problems.push(`missing tensor "${name}" (shape [${shape}]) in ${searched}`);
    else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) problems.push(`tensor "${name}" in ${tensorFiles.get(name)} has shape [${t.shape}], the config needs [${shape}]`);
  }
  if (problems.length) throw new CheckpointError('INVALID_ARGUMENT', `${dir}: ${problems.length} tensor problem(s) for ${join(dir, HF_CONFIG)}: ${problems.join('; ')}`);
}

export type HfSaveDtype = 'float32' | 'float16' | 'bfloat16';

export interface SaveHfOptions {
  config: Record<string, unknown>;
  /** Tensors in checkpoint order (a Map works). */
  tensors: Iterable<[string, { shape: readonly number[]; data: Float32Array }]>;
  /** On-disk dtype; recorded as config.json's torch_dtype. Default float32. */
  dtype?: HfSaveDtype;
  /** Split into shards of at most this many bytes, with an index. Default: one file. */
  maxShardBytes?: number;
  /** tokenizer.json, tokenizer_config.json, … written as they are. */
  tokenizerFiles?: Record<string, string | Uint8Array>;
  /** Any further files written as they are (same as tokenizerFiles; kept for callers that use this name). */
  extraFiles?: Record<string, string | Uint8Array>;
  /** safetensors __metadata__; "format": "pt" is always set, as transformers expects. */
  metadata?: Record<string, string>;
}

const ST_OF: Record<HfSaveDtype, StDtype> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16' };

function writeFileAtomic(path: string, content: string | Uint8Array): void {
  writeFileSync(`${path}.tmp-${process.pid}`, content);
  renameSync(`${path}.tmp-${process.pid}`, path);
}

type Item = [string, { dtype: StDtype; shape: readonly number[]; data: Float32Array }];

/** Greedy packing in checkpoint order: a shard closes when the next tensor would exceed the limit (a tensor larger than the limit gets its own shard). */
function packShards(items: Item[], maxBytes: number): Item[][] {
  const shards: Item[][] = [[]];
  let size = 0;
  for (const item of items) {
    const b = item[1].data.length * ST_DTYPE_BYTES[item[1].dtype];
    if (size + b > maxBytes && shards.at(-1)!.length) {
      shards.push([]);
      size = 0;
    }
    shards.at(-1)!.push(item);
    size += b;
  }
  return shards;
}

/** Writes a model directory; returns the paths written. Weight files from an earlier save are replaced, never mixed. */
export function saveHfDir(dir: string, o: SaveHfOptions): string[] {
  const dtype = o.dtype ?? 'float32';
  const st = ST_OF[dtype];
  if (!st) throw new CheckpointError('INVALID_ARGUMENT', `dtype "${String(dtype)}" must be float32, float16 or bfloat16`);
  if (o.maxShardBytes !== undefined && !(o.maxShardBytes > 0)) throw new CheckpointError('INVALID_ARGUMENT', `maxShardBytes must be positive, got ${o.maxShardBytes}`);
  const items: Item[] = [];
  const names = new Set<string>();
  for (const [name, t] of o.tensors) {
    if (names.has(name)) throw new CheckpointError('INVALID_ARGUMENT', `tensor "${name}" given twice for ${dir}`);
    names.add(name);
    items.push([name, { dtype: st, shape: t.shape, data: t.data }]);
  }
  mkdirSync(dir, { recursive: true });
  // A stale index would take precedence over a new single file, stale shards would load as strays, and
  // an old config.json would make an interrupted save look complete.
  for (const f of readdirSync(dir)) if (f === HF_CONFIG || f === HF_WEIGHTS || f === HF_INDEX || SHARD_NAME.test(f)) rmSync(join(dir, f), { force: true });
  const metadata = { ...o.metadata, format: 'pt' };
  const written: string[] = [];
  const total = items.reduce((s, [, t]) => s + t.data.length * ST_DTYPE_BYTES[st], 0);
  if (o.maxShardBytes === undefined || total <= o.maxShardBytes) {
    const p = join(dir, HF_WEIGHTS);
    writeSafetensors(p, items, metadata);
    written.push(p);
  } else {
    const shards = packShards(items, o.maxShardBytes);
    const weightMap: Record<string, string> = {};
    shards.forEach((shard, i) => {
      const name = `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`;
      writeSafetensors(join(dir, name), shard, metadata);
      written.push(join(dir, name));
      for (const [n] of shard) weightMap[n] = name;
    });
    const p = join(dir, HF_INDEX);
    writeFileAtomic(p, JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2) + '\n');
    written.push(p);
  }
  for (const [name, content] of Object.entries({ ...o.extraFiles, ...o.tokenizerFiles })) {
    const p = join(dir, name);
    writeFileAtomic(p, content);
    written.push(p);
  }
  // config.json last: a directory whose save was interrupted fails to load as "config.json is missing"
  // rather than loading with half its weights.
  const configPath = join(dir, HF_CONFIG);
  writeFileAtomic(configPath, JSON.stringify({ ...o.config, torch_dtype: dtype }, null, 2) + '\n');
  written.push(configPath);
  return written;
}
