// Row-range selectors in Hugging Face slice style (DatasetSpec.split): "", "[:1000]", "[1000:]",
// "[:90%]", "[90%:]", "[10:20]", "[-100:]". Applied to the file order (all files of a directory
// concatenated in name order) before max_rows and before any shuffling, so one file can serve as
// train ("[:90%]") and held-out ("[90%:]") data with no overlap and no gap.
import { DataFileError } from './file-digest.js';

/** One end of a slice: an absolute row index (negative counts from the end) or a percentage. */
export type SplitBound = { kind: 'rows'; value: number } | { kind: 'percent'; value: number };

export interface SplitSelector {
  start?: SplitBound;
  end?: SplitBound;
}

const BOUND = /^\s*(-?\d+)\s*(%?)\s*$/;
const SYNTAX = 'valid forms: "" (all rows), "[:1000]", "[1000:]", "[10:20]", "[:90%]", "[90%:]", "[-100:]"';

function parseBound(text: string, split: string): SplitBound | undefined {
  if (text.trim() === '') return undefined;
  const m = BOUND.exec(text);
  if (!m) throw new DataFileError('INVALID_ARGUMENT', `split ${JSON.stringify(split)}: ${JSON.stringify(text)} is not a row count or percentage; ${SYNTAX}`);
  const value = Number(m[1]);
  if (m[2] === '%') {
    if (value < 0 || value > 100) throw new DataFileError('INVALID_ARGUMENT', `split ${JSON.stringify(split)}: percentages must be within 0..100, got ${value}%; ${SYNTAX}`);
    return { kind: 'percent', value };
  }
  if (!Number.isSafeInteger(value)) throw new DataFileError('INVALID_ARGUMENT', `split ${JSON.stringify(split)}: ${m[1]} is too large`);
  return { kind: 'rows', value };
}

export function parseSplit(split: string): SplitSelector {
  const s = split.trim();
  if (s === '') return {};
  const m = /^\[([^:\]]*):([^:\]]*)\]$/.exec(s);
  if (!m) throw new DataFileError('INVALID_ARGUMENT', `split ${JSON.stringify(split)} is not a slice; ${SYNTAX}`);
  const start = parseBound(m[1]!, split);
  const end = parseBound(m[2]!, split);
  return { ...(start ? { start } : {}), ...(end ? { end } : {}) };
}

/** Whether resolving needs the total row count (percentages and negative indices do). */
export function splitNeedsRowCount(sel: SplitSelector): boolean {
  const needs = (b?: SplitBound) => b !== undefined && (b.kind === 'percent' || b.value < 0);
  return needs(sel.start) || needs(sel.end);
}

/**
 * Percentages round to the nearest row (Hugging Face's "closest" rounding), so "[:p%]" and
 * "[p%:]" always partition the rows. Out-of-range indices clamp, as Python slices do.
 */
export function resolveBound(b: SplitBound, totalRows: number): number {
  const raw = b.kind === 'percent' ? Math.round((b.value * totalRows) / 100) : b.value < 0 ? totalRows + b.value : b.value;
  return Math.min(Math.max(raw, 0), totalRows);
}

/** [start, end) row range of the selector over `totalRows` rows (end >= start). */
export function resolveSplit(sel: SplitSelector, totalRows: number): { start: number; end: number } {
  const start = sel.start ? resolveBound(sel.start, totalRows) : 0;
  const end = sel.end ? resolveBound(sel.end, totalRows) : totalRows;
  return { start, end: Math.max(start, end) };
}

/** The [start, end) range after the split, then max_rows (0 = no limit). */
export function selectRowRange(split: string, totalRows: number, maxRows = 0): { start: number; end: number } {
  const { start, end } = resolveSplit(parseSplit(split), totalRows);
  return { start, end: maxRows > 0 ? Math.min(end, start + maxRows) : end };
}
