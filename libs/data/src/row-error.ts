// A row that does not fit its schema. The message names the file, the row, the column and the
// columns that were found, because the usual cause is a column named differently than expected
// (fixable with FieldMapping) and the user needs to see both names side by side. Column names are the
// file's structure, shown cut short; no cell value is ever quoted (errors travel back to callers who
// may not be allowed to read the file).
import { DataFileError } from './file-digest.js';
import { describeSource, type RowSource } from './read-rows.js';

export class DataRowError extends DataFileError {
  constructor(
    readonly source: Pick<RowSource, 'file' | 'row' | 'line'>,
    readonly column: string | undefined,
    readonly problem: string,
    readonly columnsFound: readonly string[],
  ) {
    super('INVALID_ARGUMENT', `${describeSource(source)}${column !== undefined ? `, column ${shortName(column)}` : ''}: ${problem} (columns found: ${listColumns(columnsFound)})`);
    this.name = 'DataRowError';
  }
}

const MAX_NAME = 40;
const MAX_COLUMNS = 20;

function shortName(name: string): string {
  return JSON.stringify(name.length > MAX_NAME ? name.slice(0, MAX_NAME) + '…' : name);
}

function listColumns(names: readonly string[]): string {
  if (names.length === 0) return 'none';
  const shown = names.slice(0, MAX_COLUMNS).map(shortName).join(', ');
  return names.length > MAX_COLUMNS ? `${shown} and ${names.length - MAX_COLUMNS} more` : shown;
}
