// Task documents from a DatasetSpec. A deliberately tiny JSONL reader: the evaluator must not wait
// on libs/data, and eval files are small. Parquet task data is rejected with a clear error until
// the shared dataset readers can be used here. Paths go through the data roots (@juice/data
// path-roots), and no error quotes the file's contents: they name the file, line and column.
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { describeJsonError, requestDataPath } from '@juice/data';
import { DataFormat, echo, type DatasetSpec } from '@juice/proto';

export type Doc = Record<string, unknown>;

/** A document with its 0-based row index in the file (before the split), for few-shot exclusion. */
export interface RowDoc {
  row: number;
  doc: Doc;
}

export interface TaskData {
  /** Documents selected by dataset.split and dataset.max_rows, in file order. */
  docs: RowDoc[];
  /** Few-shot pool from task.fewshot_split; undefined = draw from `docs`. */
  fewshotDocs?: RowDoc[];
  /** SHA-256 of the file bytes (directory: of every file's bytes, in name order). */
  sha256: string;
}

export interface RowRange {
  start: number;
  end: number;
}

const BOUND = /^\s*(\d+(?:\.\d+)?)(%?)\s*$/;

/**
 * Hugging Face slice-style row selection: "", "[:N]", "[N:]", "[A:B]", "[:P%]", "[P%:]",
 * "[P%:Q%]". Percent bounds round to the nearest row (HF's default "closest" rounding).
 */
export function parseSplit(split: string, numRows: number, field = 'dataset.split'): RowRange {
  const s = split.trim();
  if (s === '') return { start: 0, end: numRows };
  const m = /^\[([^:\]]*):([^:\]]*)\]$/.exec(s);
  if (!m) throw new Error(`${field}: expected "", "[:1000]", "[1000:]", "[10:20]", "[:90%]" or "[90%:]", got ${echo(split)}`);
  const bound = (text: string, dflt: number): number => {
    if (text.trim() === '') return dflt;
    const b = BOUND.exec(text);
    if (!b) throw new Error(`${field}: bound ${echo(text)} is not a non-negative row count or percentage`);
    const v = Number(b[1]);
    if (b[2] === '%') {
      if (v > 100) throw new Error(`${field}: percentage ${v}% exceeds 100%`);
      return Math.round((v / 100) * numRows);
    }
    if (!Number.isInteger(v)) throw new Error(`${field}: row bound ${echo(text)} must be an integer`);
    return Math.min(v, numRows);
  };
  const start = bound(m[1]!, 0);
  const end = bound(m[2]!, numRows);
  return { start, end: Math.max(start, end) };
}

/** Applies a split selector (and an optional row cap) to rows, keeping their file row indices. */
export function selectRows(rows: readonly Doc[], split: string, maxRows = 0, field = 'dataset.split'): RowDoc[] {
  const { start, end } = parseSplit(split, rows.length, field);
  const stop = maxRows > 0 ? Math.min(end, start + maxRows) : end;
  const out: RowDoc[] = [];
  for (let i = start; i < stop; i++) out.push({ row: i, doc: rows[i]! });
  return out;
}

/** Parses JSONL text (or, leniently, a JSON array of objects). Errors name file and line. */
export function parseJsonl(text: string, file = '<inline>'): Doc[] {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('[')) {
    let arr: unknown;
    try {
      arr = JSON.parse(trimmed);
    } catch {
      throw new Error(`${file}: ${describeJsonError(trimmed)}`);
    }
    if (!Array.isArray(arr)) throw new Error(`${file}: expected a JSON array of objects`);
    return arr.map((row, i) => asDoc(row, `${file}: element ${i}`));
  }
  const docs: Doc[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      // JSON.parse's message quotes the text: the column is named instead.
      throw new Error(`${file}:${i + 1}: ${describeJsonError(line)}`);
    }
    docs.push(asDoc(row, `${file}:${i + 1}`));
  }
  return docs;
}

function asDoc(row: unknown, where: string): Doc {
  if (row === null || typeof row !== 'object' || Array.isArray(row)) throw new Error(`${where}: expected a JSON object per row, got ${row === null ? 'null' : Array.isArray(row) ? 'an array' : `a ${typeof row}`}`);
  return row as Doc;
}

function formatOf(path: string, format: DataFormat): DataFormat {
  if (format !== DataFormat.UNSPECIFIED) return format;
  const ext = extname(path).toLowerCase();
  if (ext === '.jsonl' || ext === '.json') return DataFormat.JSONL;
  if (ext === '.parquet') return DataFormat.PARQUET;
  throw new Error(`dataset.path: cannot tell the format of ${echo(path, 200)} from its extension; use .jsonl/.json or set dataset.format`);
}

/** Files of a path: the file itself, or a directory's files of the given format in name order. */
async function filesOf(path: string, format: DataFormat): Promise<string[]> {
  // Under the data roots, a regular file or a directory (PERMISSION_DENIED / NOT_FOUND / INVALID_ARGUMENT).
  const real = requestDataPath(path, 'dataset.path');
  const st = await stat(real);
  if (!st.isDirectory()) return [real];
  const exts = format === DataFormat.PARQUET ? ['.parquet'] : ['.jsonl', '.json'];
  // Regular files only: a symlink, FIFO or device in the directory is not a shard.
  const names = (await readdir(real, { withFileTypes: true }))
    .filter((e) => e.isFile() && exts.includes(extname(e.name).toLowerCase()))
    .map((e) => e.name)
    .sort();
  if (names.length === 0) throw new Error(`dataset.path: directory ${echo(path, 200)} holds no ${exts.join('/')} files`);
  return names.map((n) => join(real, n));
}

/** Reads every row of a dataset file (or directory) and the SHA-256 of its bytes. */
export async function readDataset(spec: Pick<DatasetSpec, 'path' | 'format' | 'expectedSha256'>): Promise<{ rows: Doc[]; sha256: string }> {
  if (!spec.path) throw new Error('dataset.path: required');
  const dirFormat = spec.format === DataFormat.UNSPECIFIED ? DataFormat.JSONL : spec.format;
  const files = await filesOf(spec.path, dirFormat);
  const hash = createHash('sha256');
  const rows: Doc[] = [];
  for (const file of files) {
    if (formatOf(file, spec.format) === DataFormat.PARQUET)
      throw new Error(`dataset.path: "${file}" is Parquet, which @juice/eval cannot read yet; convert the task data to JSONL`);
    const bytes = await readFile(file);
    hash.update(bytes);
    rows.push(...parseJsonl(bytes.toString('utf8'), file));
  }
  const sha256 = hash.digest('hex');
  if (spec.expectedSha256 && spec.expectedSha256.toLowerCase() !== sha256)
    throw new Error(`dataset.expected_sha256: ${echo(spec.path, 200)} has SHA-256 ${sha256}, expected ${echo(spec.expectedSha256)}`);
  return { rows, sha256 };
}

/** Loads a task's documents and few-shot pool (task.fewshot_split of the same file). */
export async function loadTaskData(task: { dataset?: DatasetSpec | undefined; fewshotSplit: string }): Promise<TaskData> {
  const ds = task.dataset;
  if (!ds) throw new Error('task.dataset: required');
  const { rows, sha256 } = await readDataset(ds);
  return taskDataFromRows(rows, ds, task.fewshotSplit, sha256);
}

/** As loadTaskData, over rows already in memory (tests, or rows read by another reader). */
export function taskDataFromRows(rows: readonly Doc[], ds: Pick<DatasetSpec, 'split' | 'maxRows'>, fewshotSplit: string, sha256 = sha256Json(rows)): TaskData {
  const docs = selectRows(rows, ds.split, Number(ds.maxRows), 'dataset.split');
  const fewshotDocs = fewshotSplit ? selectRows(rows, fewshotSplit, 0, 'task.fewshot_split') : undefined;
  return fewshotDocs ? { docs, fewshotDocs, sha256 } : { docs, sha256 };
}

/** JSON with object keys sorted at every level, so equal values hash equally. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return Object.fromEntries(Object.keys(o).sort().map((k) => [k, sortKeys(o[k])]));
  }
  return v;
}

export function sha256Json(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}
