// Resolves a dataset path to the files to read and their format. A directory holds shards of one
// dataset (e.g. train-00000-of-00004.parquet): they are read in name order, which is the order
// shard writers use, and must all have one format so a stray file is an error, not silent data.
import { readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { DataFileError } from './file-digest.js';
import type { DataFormatName } from './dataset-source.js';
import { requestDataPath } from './path-roots.js';

const EXTENSIONS: Record<string, DataFormatName> = { '.jsonl': 'jsonl', '.json': 'jsonl', '.ndjson': 'jsonl', '.parquet': 'parquet' };

export function formatFromExtension(path: string): DataFormatName | undefined {
  return EXTENSIONS[extname(path).toLowerCase()];
}

export interface DataFiles {
  files: string[];
  format: DataFormatName;
  isDirectory: boolean;
}

export async function resolveDataFiles(path: string, explicit?: DataFormatName): Promise<DataFiles> {
  if (!path) throw new DataFileError('INVALID_ARGUMENT', 'dataset path is empty; name a .jsonl or .parquet file or a directory of them');
  // Under the data roots, a regular file or a directory; what is read is the resolved path.
  const real = requestDataPath(path, 'dataset');
  const st = await stat(real);
  if (!st.isDirectory()) {
    const format = explicit ?? formatFromExtension(path);
    if (!format) throw new DataFileError('INVALID_ARGUMENT', `dataset ${path}: cannot tell the format from the extension; use .jsonl/.json/.ndjson or .parquet, or set the format`);
    return { files: [real], format, isDirectory: false };
  }
  // Only regular files (Dirent.isFile is false for symlinks, FIFOs and devices), so nothing in the
  // directory leads outside the roots.
  const names = (await readdir(real, { withFileTypes: true }))
    .filter((e) => e.isFile() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)); // code-unit order: independent of the locale
  // Only files with a data extension count, so a README or checksum file beside the shards is ignored.
  const chosen = names.filter((n) => (explicit ? formatFromExtension(n) === explicit : formatFromExtension(n) !== undefined));
  if (chosen.length === 0) throw new DataFileError('INVALID_ARGUMENT', `dataset directory ${path} holds no ${explicit ?? '.jsonl or .parquet'} files (found: ${names.slice(0, 10).join(', ') || 'nothing'})`);
  const formats = new Set(chosen.map((n) => formatFromExtension(n)).filter((f): f is DataFormatName => f !== undefined));
  if (formats.size > 1) throw new DataFileError('INVALID_ARGUMENT', `dataset directory ${path} mixes formats (${[...formats].join(', ')}); keep one format per directory`);
  const format = explicit ?? [...formats][0]!;
  return { files: chosen.map((n) => join(real, n)), format, isDirectory: true };
}
