// A row that does not fit its schema. The message names the file, the row, the column and the
// columns that were found, because the usual cause is a column named differently than expected
// (fixable with FieldMapping) and the user needs to see both names side by side.
import { DataFileError } from './file-digest.js';
import { describeSource, type RowSource } from './read-rows.js';

export class DataRowError extends DataFileError {
  constructor(
    readonly source: Pick<RowSource, 'file' | 'row' | 'line'>,
    readonly column: string | undefined,
    readonly problem: string,
    readonly columnsFound: readonly string[],
  ) {
    super('INVALID_ARGUMENT', `${describeSource(source)}${column !== undefined ? `, column ${JSON.stringify(column)}` : ''}: ${problem} (columns found: ${columnsFound.length ? columnsFound.map((c) => JSON.stringify(c)).join(', ') : 'none'})`);
    this.name = 'DataRowError';
  }
}
