// Parquet through hyparquet (pure JS, no native build). Rows are read one row group at a time so
// memory stays bounded by the largest row group, not the file.
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet';
import type { AsyncBuffer, FileMetaData } from 'hyparquet';
import { DataFileError } from './file-digest.js';
import type { DataRow } from './jsonl-reader.js';

async function open(file: string): Promise<{ buffer: AsyncBuffer; metadata: FileMetaData }> {
  let buffer: AsyncBuffer;
  try {
    buffer = await asyncBufferFromFile(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new DataFileError('NOT_FOUND', `${file} does not exist`);
    throw new DataFileError('INVALID_ARGUMENT', `${file}: cannot open: ${(e as Error).message}`);
  }
  try {
    return { buffer, metadata: await parquetMetadataAsync(buffer) };
  } catch (e) {
    throw new DataFileError('INVALID_ARGUMENT', `${file}: not a readable Parquet file: ${(e as Error).message}`);
  }
}

/**
 * Parquet INT64 columns decode to bigint; JSON has no bigint and downstream code (templates, labels)
 * expects numbers, so integers within ±2^53 become numbers, recursively through lists and structs.
 */
export function normaliseParquetValue(v: unknown): unknown {
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  if (Array.isArray(v)) return v.map(normaliseParquetValue);
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    const out: DataRow = {};
    for (const [k, x] of Object.entries(v)) out[k] = normaliseParquetValue(x);
    return out;
  }
  return v;
}

export async function countParquetRows(file: string): Promise<number> {
  const { metadata } = await open(file);
  return Number(metadata.num_rows);
}

export async function parquetColumnNames(file: string): Promise<string[]> {
  const { metadata } = await open(file);
  return parquetSchema(metadata).children.map((c: { element: { name: string } }) => c.element.name);
}

/** Rows of [rowStart, rowEnd) (file row indices; default all), in file order. */
export async function* readParquetRows(file: string, range: { rowStart?: number; rowEnd?: number } = {}): AsyncGenerator<DataRow> {
  const { buffer, metadata } = await open(file);
  const total = Number(metadata.num_rows);
  const rowStart = Math.max(0, range.rowStart ?? 0);
  const rowEnd = Math.min(total, range.rowEnd ?? total);
  let groupStart = 0;
  for (const group of metadata.row_groups) {
    const groupEnd = groupStart + Number(group.num_rows);
    const from = Math.max(rowStart, groupStart);
    const to = Math.min(rowEnd, groupEnd);
    if (from < to) {
      let rows: DataRow[];
      try {
        rows = await parquetReadObjects({ file: buffer, metadata, rowStart: from, rowEnd: to });
      } catch (e) {
        throw new DataFileError('INVALID_ARGUMENT', `${file} rows ${from}..${to - 1}: cannot decode: ${(e as Error).message}`);
      }
      for (const r of rows) yield normaliseParquetValue(r) as DataRow;
    }
    groupStart = groupEnd;
    if (groupStart >= rowEnd) break;
  }
}
