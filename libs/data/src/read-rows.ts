// Rows of a dataset (a file or a directory of shards) with where each came from, after the split
// selector and max_rows. Every row carries its file and position so any later error — a bad
// column, a prompt too long — can point at the exact row to fix.
import { DataFileError, fileDigest } from './file-digest.js';
import { type DatasetSource, formatOf, maxRowsOf } from './dataset-source.js';
import { resolveDataFiles, type DataFiles } from './data-files.js';
import { countJsonlRows, readJsonlRows, type DataRow } from './jsonl-reader.js';
import { countParquetRows, readParquetRows } from './parquet-reader.js';
import { parseSplit, resolveSplit, splitNeedsRowCount } from './split-selector.js';

export interface RowSource {
  file: string;
  /** 0-based row index within the file (as pandas and the Hugging Face viewer number rows). */
  row: number;
  /** JSONL only: 1-based line number, as an editor shows it. */
  line?: number;
  /** 0-based position in the whole dataset (files concatenated in name order), before the split. */
  index: number;
}

export interface SourcedRow {
  row: DataRow;
  source: RowSource;
}

/** "data.jsonl line 17" or "data.parquet row index 16": where a user goes to fix a row. */
export function describeSource(s: Pick<RowSource, 'file' | 'row' | 'line'>): string {
  return s.line !== undefined ? `${s.file} line ${s.line}` : `${s.file} row index ${s.row}`;
}

export interface ReadOptions {
  signal?: AbortSignal;
}

async function checkDigest(source: DatasetSource, files: DataFiles, signal?: AbortSignal): Promise<void> {
  const expected = source.expectedSha256?.trim().toLowerCase();
  if (!expected) return;
  if (files.isDirectory) throw new DataFileError('INVALID_ARGUMENT', `dataset ${source.path}: expected_sha256 applies to a single file, but the path is a directory; name the file or drop the hash`);
  const { sha256 } = await fileDigest(files.files[0]!, signal);
  if (sha256 !== expected) throw new DataFileError('FAILED_PRECONDITION', `dataset ${source.path}: SHA-256 is ${sha256}, expected ${expected}; the file changed since the hash was recorded`);
}

async function countFileRows(file: string, format: DataFiles['format'], signal?: AbortSignal): Promise<number> {
  return format === 'parquet' ? countParquetRows(file) : countJsonlRows(file, signal);
}

/** Rows in the dataset before the split (a streaming pass over JSONL; Parquet reads the footer). */
export async function countRows(source: DatasetSource, o: ReadOptions = {}): Promise<number> {
  const files = await resolveDataFiles(source.path, formatOf(source));
  let n = 0;
  for (const f of files.files) n += await countFileRows(f, files.format, o.signal);
  return n;
}

export async function* readRows(source: DatasetSource, o: ReadOptions = {}): AsyncGenerator<SourcedRow> {
  const files = await resolveDataFiles(source.path, formatOf(source));
  await checkDigest(source, files, o.signal);
  const selector = parseSplit(source.split ?? '');
  const maxRows = maxRowsOf(source);
  // Parquet counts are free (footer metadata) and let whole files be skipped; JSONL is only counted
  // when the selector needs the total (percentages, negative indices).
  const counts = files.format === 'parquet' || splitNeedsRowCount(selector) ? await Promise.all(files.files.map((f) => countFileRows(f, files.format, o.signal))) : undefined;
  const total = counts?.reduce((a, b) => a + b, 0) ?? Number.MAX_SAFE_INTEGER;
  const range = resolveSplit(selector, total);
  const end = maxRows > 0 ? Math.min(range.end, range.start + maxRows) : range.end;
  let index = 0;
  for (let fi = 0; fi < files.files.length && index < end; fi++) {
    const file = files.files[fi]!;
    const count = counts?.[fi];
    if (count !== undefined && index + count <= range.start) {
      index += count;
      continue;
    }
    if (files.format === 'parquet') {
      const rowStart = Math.max(0, range.start - index);
      const rowEnd = Math.min(count!, end - index);
      let row = rowStart;
      for await (const r of readParquetRows(file, { rowStart, rowEnd })) {
        yield { row: r, source: { file, row, index: index + row } };
        row++;
      }
      index += count!;
    } else {
      let row = 0;
      for await (const { row: r, line } of readJsonlRows(file, o.signal)) {
        const at = index + row;
        if (at >= end) break;
        if (at >= range.start) yield { row: r, source: { file, row, line, index: at } };
        row++;
      }
      index += row;
    }
  }
}

export async function loadRows(source: DatasetSource, o: ReadOptions = {}): Promise<SourcedRow[]> {
  const out: SourcedRow[] = [];
  for await (const r of readRows(source, o)) out.push(r);
  return out;
}
