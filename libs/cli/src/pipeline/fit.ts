// The main job's length rule, checked before anything trains. One rule for training and evaluation:
//
//   A demonstration fits when its prompt tokens + response tokens + EOS <= max_length, where
//   max_length = min(512, the model's context length) — the trainer's default max_length. Rows that do
//   not fit are LEFT OUT of training and of evaluation alike (never truncated), and the run prints how
//   many rows of which file were left out.
//
// Why leave out rather than truncate: the trainer would cut such a response (dropping its EOS), but
// the evaluator cannot score a cut demonstration as "the held-out response", and a response longer
// than the context cannot be scored at all (ScoreCompletions answers INVALID_ARGUMENT, which is how a
// 19-minute run once died at evaluation). Leaving the row out of both keeps the two sides measuring
// the same rows. The fitting rows are written as JSONL copies in <out>/data/fit/ and every job and
// evaluation task reads those copies.
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { basename, join } from 'node:path';
import { Tokenizer } from '@juice/checkpoint';
import { describeSource, encodePrompt, encodeResponse, readRows, rowToDemonstration, type DataRow, type Demonstration, type TokenizerLike } from '@juice/data';
import { configFromHf } from '@juice/models';
import { ConfigError } from '@juice/service-kit';

/** The trainer's default max_length for a model with `contextLength` positions (sft/irft/rft runners). */
export function maxLengthFor(contextLength: number): number {
  return Math.min(512, contextLength);
}

export interface LengthLimits {
  contextLength: number;
  maxLength: number;
}

/** The tokenizer and the limits of a model directory, without loading its weights. */
export function modelLimits(dir: string): { tokenizer: Tokenizer; limits: LengthLimits } {
  const config = configFromHf(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>, join(dir, 'config.json'));
  return { tokenizer: Tokenizer.fromDir(dir), limits: { contextLength: config.maxPositions, maxLength: maxLengthFor(config.maxPositions) } };
}

export interface LeftOutRow {
  /** "file line N" (JSONL) or "file row index N" (Parquet). */
  where: string;
  tokens: number;
}

export interface FitReport {
  file: string;
  /** The JSONL copy holding only the fitting rows. */
  fitted: string;
  rows: number;
  kept: number;
  leftOut: LeftOutRow[];
}

/** Prompt + response + EOS tokens of one demonstration, as the trainer tokenizes it. */
export function demonstrationTokens(tok: TokenizerLike, d: Pick<Demonstration, 'prompt' | 'response'>): number {
  return encodePrompt(tok, d.prompt).length + encodeResponse(tok, d.response).length;
}

/** JSON has no bigint; Parquet integers may arrive as one. */
const jsonSafe = (_k: string, v: unknown) => (typeof v === 'bigint' ? Number(v) : v);

/**
 * Reads `file` (JSONL or Parquet, schema 1 CHAT / 2 PROMPT_COMPLETION), writes the rows that fit
 * `limits.maxLength` to `fitted` (JSONL, the rows as read) and reports the rest by row and length.
 */
export async function fitDemonstrations(tok: TokenizerLike, file: string, schema: 1 | 2, limits: LengthLimits, fitted: string, signal?: AbortSignal): Promise<FitReport> {
  const source = { path: file, schema: schema === 2 ? ('prompt_completion' as const) : ('chat' as const) };
  const out = createWriteStream(fitted);
  const report: FitReport = { file, fitted, rows: 0, kept: 0, leftOut: [] };
  try {
    for await (const r of readRows(source, { signal })) {
      report.rows++;
      const d = rowToDemonstration(r, source.schema);
      const tokens = demonstrationTokens(tok, d);
      if (tokens > limits.maxLength) {
        report.leftOut.push({ where: describeSource(r.source), tokens });
        continue;
      }
      report.kept++;
      if (!out.write(`${JSON.stringify(r.row as DataRow, jsonSafe)}\n`)) await once(out, 'drain');
    }
  } finally {
    out.end();
    await once(out, 'close');
  }
  return report;
}

/** One line per file: how many rows were left out, with the first few by row and length. */
export function describeFit(r: FitReport, limits: LengthLimits): string {
  if (r.leftOut.length === 0) return `${basename(r.file)}: all ${r.rows} rows fit max_length ${limits.maxLength}`;
  const first = r.leftOut
    .slice(0, 3)
    .map((x) => `${x.where} (${x.tokens} tokens)`)
    .join(', ');
  return `${basename(r.file)}: ${r.leftOut.length} of ${r.rows} rows left out of training and evaluation (prompt + response + EOS > max_length ${limits.maxLength}): ${first}${r.leftOut.length > 3 ? ', …' : ''}`;
}

/** A file with no fitting rows cannot be trained or evaluated on: fail now, naming rows and lengths. */
export function requireRows(r: FitReport, limits: LengthLimits, role: string): void {
  if (r.kept > 0) return;
  if (r.rows === 0) throw new ConfigError(`${role} ${r.file} has no rows`);
  const worst = r.leftOut.slice(0, 3).map((x) => `${x.where}: ${x.tokens} tokens`);
  throw new ConfigError(
    `${role} ${r.file}: none of its ${r.rows} rows fits max_length ${limits.maxLength} (the model's context is ${limits.contextLength} tokens; prompt + response + EOS must fit): ${worst.join('; ')}`,
  );
}

export function fitDir(out: string): string {
  const dir = join(out, 'data', 'fit');
  mkdirSync(dir, { recursive: true });
  return dir;
}
