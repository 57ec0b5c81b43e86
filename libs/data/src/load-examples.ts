// Dataset -> canonical examples in one call, for trainers and evaluators.
import type { Demonstration, PreferencePair } from './examples.js';
import { type DataSchemaName, type DatasetSource, schemaOf } from './dataset-source.js';
import { DataFileError } from './file-digest.js';
import { readRows, type ReadOptions } from './read-rows.js';
import { rowToDemonstration, rowToPreferencePair, rowToText } from './row-to-example.js';

function requireSchema(source: DatasetSource, allowed: readonly DataSchemaName[]): DataSchemaName {
  const schema = schemaOf(source);
  const names = allowed.map((s) => s.toUpperCase()).join(', ');
  if (!schema) throw new DataFileError('INVALID_ARGUMENT', `dataset ${source.path}: schema is not set; training data needs one of ${names}`);
  if (!allowed.includes(schema)) throw new DataFileError('INVALID_ARGUMENT', `dataset ${source.path}: schema ${schema.toUpperCase()} cannot be used here; valid: ${names}`);
  return schema;
}

export async function* readDemonstrations(source: DatasetSource, o: ReadOptions = {}): AsyncGenerator<Demonstration> {
  const schema = requireSchema(source, ['chat', 'prompt_completion', 'preference']) as Exclude<DataSchemaName, 'text'>;
  for await (const r of readRows(source, o)) yield rowToDemonstration(r, schema, source.fields);
}

export async function* readPreferencePairs(source: DatasetSource, o: ReadOptions = {}): AsyncGenerator<PreferencePair> {
  requireSchema(source, ['preference']);
  for await (const r of readRows(source, o)) yield rowToPreferencePair(r, source.fields);
}

export async function loadDemonstrations(source: DatasetSource, o: ReadOptions = {}): Promise<Demonstration[]> {
  const out: Demonstration[] = [];
  for await (const d of readDemonstrations(source, o)) out.push(d);
  return out;
}

export async function loadPreferencePairs(source: DatasetSource, o: ReadOptions = {}): Promise<PreferencePair[]> {
  const out: PreferencePair[] = [];
  for await (const p of readPreferencePairs(source, o)) out.push(p);
  return out;
}

/** TEXT rows' documents (pretraining); any other schema is refused, naming the dataset. */
export async function loadTexts(source: DatasetSource, o: ReadOptions = {}): Promise<string[]> {
  requireSchema(source, ['text']);
  const out: string[] = [];
  for await (const r of readRows(source, o)) out.push(rowToText(r, source.fields));
  return out;
}
