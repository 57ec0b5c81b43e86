// JSONL, streamed line by line so a multi-gigabyte file never sits in memory. Errors name the file
// and the 1-based line, as an editor shows it, because that is where a user goes to fix them.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { DataFileError } from './file-digest.js';
import { describeJsonError } from '@juice/proto';

export type DataRow = Record<string, unknown>;

export interface JsonlRow {
  row: DataRow;
  /** 1-based line number in the file (blank lines count, they are just skipped). */
  line: number;
}

function describe(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : `a ${typeof v}`;
}

export async function* readJsonlRows(file: string, signal?: AbortSignal): AsyncGenerator<JsonlRow> {
  const input = createReadStream(file, { encoding: 'utf8', ...(signal ? { signal } : {}) });
  const lines = createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  try {
    for await (const raw of lines) {
      line++;
      const text = line === 1 ? raw.replace(/^\uFEFF/, '') : raw; // editors on Windows write a BOM
      if (text.trim() === '') continue;
      let row: unknown;
      try {
        row = JSON.parse(text);
      } catch {
        // JSON.parse's message quotes the line; this names the column instead (no file contents in errors).
        throw new DataFileError('INVALID_ARGUMENT', `${file} line ${line}: ${describeJsonError(text)}`);
      }
      if (row === null || typeof row !== 'object' || Array.isArray(row)) {
        throw new DataFileError('INVALID_ARGUMENT', `${file} line ${line}: expected a JSON object per line, got ${describe(row)} (JSONL files hold one object per line)`);
      }
      yield { row: row as DataRow, line };
    }
  } catch (e) {
    if (e instanceof DataFileError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DataFileError('NOT_FOUND', `${file} does not exist`);
    throw new DataFileError('INVALID_ARGUMENT', `${file} line ${line + 1}: cannot read: ${(e as Error).message}`);
  } finally {
    lines.close();
    input.destroy();
  }
}

/** Number of rows (non-blank lines), for splits that need the total; a streaming pass. */
export async function countJsonlRows(file: string, signal?: AbortSignal): Promise<number> {
  const input = createReadStream(file, { encoding: 'utf8', ...(signal ? { signal } : {}) });
  const lines = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const raw of lines) if (raw.trim() !== '' && raw !== '\uFEFF') n++;
  } finally {
    lines.close();
    input.destroy();
  }
  return n;
}
