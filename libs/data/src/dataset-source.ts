// The dataset description this lib reads: structurally compatible with the protobuf-es
// juice.v1.DatasetSpec (enum fields as their numeric values, max_rows as bigint), and also
// writable by hand with readable names. Kept structural so @juice/data does not depend on the
// generated protobuf code.
import { DataFileError } from './file-digest.js';

export type DataFormatName = 'jsonl' | 'parquet';
export type DataSchemaName = 'chat' | 'prompt_completion' | 'preference' | 'text';

/** Column names for the canonical fields of a schema; empty or absent = the canonical name. */
export interface FieldMapping {
  messages?: string;
  prompt?: string;
  completion?: string;
  chosen?: string;
  rejected?: string;
  /** Optional column holding a system prompt, prepended to the prompt as a system message. */
  system?: string;
  /** The document of a TEXT row (pretraining). */
  text?: string;
}

export interface DatasetSource {
  /** A file, or a directory of files of one format read in name order. */
  path: string;
  /** Name, or juice.v1.DataFormat value (0 = from the extension). */
  format?: DataFormatName | number;
  /** Name, or juice.v1.DataSchema value (0 = raw rows). */
  schema?: DataSchemaName | number;
  /** Hugging Face slice selector, see split-selector.ts. */
  split?: string;
  fields?: FieldMapping;
  /** At most this many rows after the split; 0 = all. */
  maxRows?: number | bigint;
  /** If set, the file's SHA-256 must match (single files only). */
  expectedSha256?: string;
}

const FORMAT_BY_ENUM: Record<number, DataFormatName | undefined> = { 0: undefined, 1: 'jsonl', 2: 'parquet' };
const SCHEMA_BY_ENUM: Record<number, DataSchemaName | undefined> = { 0: undefined, 1: 'chat', 2: 'prompt_completion', 3: 'preference', 4: 'text' };
const SCHEMA_NAMES: readonly DataSchemaName[] = ['chat', 'prompt_completion', 'preference', 'text'];

/** The explicit format, or undefined when it should come from the file extension. */
export function formatOf(source: DatasetSource): DataFormatName | undefined {
  const f = source.format;
  if (f === undefined || (f as unknown) === '') return undefined;
  if (typeof f === 'number') {
    if (!(f in FORMAT_BY_ENUM)) throw new DataFileError('INVALID_ARGUMENT', `dataset ${source.path}: unknown format enum value ${f}; valid: 0 (from extension), 1 (JSONL), 2 (PARQUET)`);
    return FORMAT_BY_ENUM[f];
  }
  if (f !== 'jsonl' && f !== 'parquet') throw new DataFileError('INVALID_ARGUMENT', `dataset ${source.path}: unknown format ${JSON.stringify(f)}; valid: "jsonl", "parquet"`);
  return f;
}

/** The schema, or undefined for raw rows. */
export function schemaOf(source: DatasetSource): DataSchemaName | undefined {
  const s = source.schema;
  if (s === undefined || (s as unknown) === '') return undefined;
  if (typeof s === 'number') {
    if (!(s in SCHEMA_BY_ENUM)) throw new DataFileError('INVALID_ARGUMENT', `dataset ${source.path}: unknown schema enum value ${s}; valid: 1 (CHAT), 2 (PROMPT_COMPLETION), 3 (PREFERENCE), 4 (TEXT)`);
    return SCHEMA_BY_ENUM[s];
  }
  if (!SCHEMA_NAMES.includes(s)) throw new DataFileError('INVALID_ARGUMENT', `dataset ${source.path}: unknown schema ${JSON.stringify(s)}; valid: ${SCHEMA_NAMES.map((n) => JSON.stringify(n)).join(', ')}`);
  return s;
}

export function maxRowsOf(source: DatasetSource): number {
  const m = source.maxRows;
  if (m === undefined) return 0;
  const n = typeof m === 'bigint' ? Number(m) : m;
  if (!Number.isFinite(n) || n < 0 || !Number.isInteger(n)) throw new DataFileError('INVALID_ARGUMENT', `dataset ${source.path}: max_rows must be a non-negative integer, got ${String(m)}`);
  return n;
}

/** The column holding a canonical field under the mapping (empty mapping = canonical name). */
export function columnFor(fields: FieldMapping | undefined, canonical: keyof FieldMapping): string {
  const mapped = fields?.[canonical];
  return mapped && mapped.length > 0 ? mapped : canonical;
}
