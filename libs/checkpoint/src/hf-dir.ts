// A Hugging Face model directory: config.json, model.safetensors or shards with
// model.safetensors.index.json, tokenizer files. What juice writes loads in transformers by tensor
// name, and what transformers writes loads here; errors name the file and the tensor.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync, renameSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointError } from './errors.js';
import { readSafetensors, writeSafetensors, type StDtype, type StTensor } from './safetensors.js';

export interface HfModelFiles {
  config: Record<string, unknown>;
  tensors: Map<string, StTensor>;
  /** Every file read, with its SHA-256 (recorded by jobs for reproducibility). */
  files: { path: string; sha256: string; sizeBytes: number }[];
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function readJson(path: string): Record<string, unknown> {
  if (!existsSync(path)) throw new CheckpointError('NOT_FOUND', `${path} is missing`);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new CheckpointError('INVALID_ARGUMENT', `${path} is not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * Loads config and weights. With `expect` (name → shape), every expected tensor must be present with
 * that shape; all problems are reported at once, each with its tensor and file.
 */
export function loadHfDir(dir: string, expect?: ReadonlyMap<string, readonly number[]>): HfModelFiles {
  if (!existsSync(dir)) throw new CheckpointError('NOT_FOUND', `model directory ${dir} does not exist`);
  const configPath = join(dir, 'config.json');
  const config = readJson(configPath);
  const files = [{ path: configPath, sha256: sha256File(configPath), sizeBytes: readFileSync(configPath).length }];
  const tensors = new Map<string, StTensor>();
  const where = new Map<string, string>();
  const indexPath = join(dir, 'model.safetensors.index.json');
  let shardFiles: string[];
  const sharded = existsSync(indexPath);
  if (sharded) {
    const index = readJson(indexPath) as { weight_map?: Record<string, string> };
    if (!index.weight_map) throw new CheckpointError('INVALID_ARGUMENT', `${indexPath}: no "weight_map"`);
    for (const [name, file] of Object.entries(index.weight_map)) where.set(name, join(dir, file));
    shardFiles = [...new Set(where.values())].sort();
    for (const f of shardFiles) if (!existsSync(f)) throw new CheckpointError('NOT_FOUND', `${f} (listed in ${indexPath}) is missing`);
  } else {
    const single = join(dir, 'model.safetensors');
    if (!existsSync(single)) {
      const others = readdirSync(dir).filter((f) => f.endsWith('.bin') || f.endsWith('.pt'));
      throw new CheckpointError('NOT_FOUND', `${dir} has no model.safetensors (or model.safetensors.index.json)${others.length ? `; found ${others.join(', ')}: convert PyTorch .bin checkpoints to safetensors first` : ''}`);
    }
    shardFiles = [single];
  }
  for (const f of shardFiles) {
    const { tensors: got } = readSafetensors(f);
    for (const [name, t] of got) {
      if (sharded && where.get(name) !== f) continue; // the index assigns this name to another shard
      tensors.set(name, t);
      where.set(name, f);
    }
    files.push({ path: f, sha256: sha256File(f), sizeBytes: readFileSync(f).length });
  }
  for (const [name, f] of where) if (!tensors.has(name)) throw new CheckpointError('DATA_LOSS', `tensor "${name}" is listed in ${indexPath} for ${f} but ${f} does not hold it`);
  if (expect) {
    const problems: string[] = [];
    for (const [name, shape] of expect) {
      const t = tensors.get(name);
      if (!t) problems.push(`missing tensor "${name}" (shape [${shape}])`);
      else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) problems.push(`tensor "${name}" in ${where.get(name)} has shape [${t.shape}], the config needs [${shape}]`);
    }
    if (problems.length) throw new CheckpointError('INVALID_ARGUMENT', `${dir}: ${problems.length} problem(s) with the weights for ${configPath}: ${problems.slice(0, 8).join('; ')}${problems.length > 8 ? '; …' : ''}`);
  }
  for (const extra of ['tokenizer.json', 'tokenizer_config.json']) {
    const p = join(dir, extra);
    if (existsSync(p)) files.push({ path: p, sha256: sha256File(p), sizeBytes: readFileSync(p).length });
  }
  return { config, tensors, files };
}

export interface SaveHfOptions {
  config: Record<string, unknown>;
  /** Tensors in checkpoint order. */
  tensors: Iterable<[string, { shape: readonly number[]; data: Float32Array }]>;
  dtype?: 'float32' | 'float16' | 'bfloat16';
  /** Split into shards of at most this many bytes (with an index). Default: one file. */
  maxShardBytes?: number;
  /** Further files to write as they are (tokenizer.json, tokenizer_config.json, …). */
  extraFiles?: Record<string, string | Uint8Array>;
}

const ST: Record<NonNullable<SaveHfOptions['dtype']>, StDtype> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16' };
const BYTES: Record<StDtype, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, I8: 1, U8: 1, BOOL: 1 };

export function saveHfDir(dir: string, o: SaveHfOptions): string[] {
  mkdirSync(dir, { recursive: true });
  const dtype = o.dtype ?? 'float32';
  const st = ST[dtype];
  const written: string[] = [];
  const writeText = (name: string, text: string | Uint8Array) => {
    const p = join(dir, name);
    writeFileSync(`${p}.tmp`, text);
    renameSync(`${p}.tmp`, p);
    written.push(p);
  };
  writeText('config.json', JSON.stringify({ ...o.config, torch_dtype: dtype }, null, 2) + '\n');
  const list = [...o.tensors].map(([n, t]) => [n, { dtype: st, shape: t.shape, data: t.data }] as [string, { dtype: StDtype; shape: readonly number[]; data: Float32Array }]);
  const total = list.reduce((s, [, t]) => s + t.data.length * BYTES[st], 0);
  if (!o.maxShardBytes || total <= o.maxShardBytes) {
    writeSafetensors(join(dir, 'model.safetensors'), list, { format: 'pt' });
    written.push(join(dir, 'model.safetensors'));
  } else {
    const shards: (typeof list)[] = [[]];
    let size = 0;
    for (const item of list) {
      const b = item[1].data.length * BYTES[st];
      if (size + b > o.maxShardBytes && shards.at(-1)!.length) {
        shards.push([]);
        size = 0;
      }
      shards.at(-1)!.push(item);
      size += b;
    }
    const weightMap: Record<string, string> = {};
    shards.forEach((shard, i) => {
      const name = `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`;
      writeSafetensors(join(dir, name), shard, { format: 'pt' });
      written.push(join(dir, name));
      for (const [n] of shard) weightMap[n] = name;
    });
    writeText('model.safetensors.index.json', JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2) + '\n');
  }
  for (const [name, content] of Object.entries(o.extraFiles ?? {})) writeText(name, content);
  return written;
}
