// The packaged corpora as the files juice trains and evaluates on, written into one directory:
//   pretrain/{train,validation}.jsonl   {"id", "text"} documents (Austen chapters) for next-token pretraining
//   demos/{train,validation,test}.jsonl CHAT rows (WordNet definitions), the split fixed by the seed
//   demos/{validation,test}-mc.jsonl    multiple choice: the true definition against other words' ones
//   tasks/{validation,test}/*.json      evaluator TaskDefinitions (held-out perplexity, multiple choice)
//   manifest.json                       sources, licences, seeds and row counts
// The validation files are for choosing hyper-parameters; the test files only for the final table.
// The held-out implicit-reward margin is measured on demos/test.jsonl (the pipeline's held-out file:
// the SFT model's own answers become the rejected side, see libs/cli/src/pipeline/margin.ts).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TaskDefinitionJson } from '../synthetic/task-definitions.js';
import { AUSTEN_SOURCE, novelToDocuments, readAustenNovels, type TextDocument } from './austen.js';
import { corpusStream, definitionChoices, sampleRows, splitDefinitions, toChatRow, type DefinitionOptions } from './definitions.js';
import { splitOf, type SplitFractions } from './splits.js';
import { readWordnet, WORDNET_SOURCE, type Synset } from './wordnet.js';

/** Bumped when the rows or tasks change, so reports say which data they measured. */
export const CORPORA_VERSION = '1';

const jsonl = (rows: readonly unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '');

export interface PretrainCorpusOptions {
  seed: number;
  /** Share of documents held out for the pretraining's own validation loss. */
  validationFraction: number;
  /** Documents instead of the installed package (tests). */
  documents?: TextDocument[];
  /** The janeaustenr data base path (without .rdb / .rdx); default: the package's. */
  austenPath?: string;
}

export interface PretrainCorpus {
  train: string;
  validation: string;
  documents: { train: number; validation: number };
  characters: { train: number; validation: number };
}

export function writePretrainCorpus(dir: string, o: PretrainCorpusOptions): PretrainCorpus {
  const out = join(resolve(dir), 'pretrain');
  mkdirSync(out, { recursive: true });
  const docs = o.documents ?? readAustenNovels(o.austenPath).flatMap(novelToDocuments);
  const fractions = { validation: o.validationFraction, test: 0 };
  const split = { train: [] as TextDocument[], validation: [] as TextDocument[] };
  for (const d of docs) split[splitOf(o.seed, d.id, fractions) === 'validation' ? 'validation' : 'train'].push(d);
  const files = { train: join(out, 'train.jsonl'), validation: join(out, 'validation.jsonl') };
  writeFileSync(files.train, jsonl(split.train));
  writeFileSync(files.validation, jsonl(split.validation));
  const chars = (ds: TextDocument[]) => ds.reduce((s, d) => s + d.text.length, 0);
  return { ...files, documents: { train: split.train.length, validation: split.validation.length }, characters: { train: chars(split.train), validation: chars(split.validation) } };
}

export interface DemonstrationOptions extends DefinitionOptions {
  seed: number;
  fractions: SplitFractions;
  /** Rows kept per split (0 = all), a seeded sample: the preset sizes the run with these. */
  trainLimit: number;
  evalLimit: number;
  /** Wrong choices per multiple-choice question. */
  distractors: number;
  /** Synsets instead of the installed package (tests). */
  synsets?: Synset[];
  /** The WordNet directory; default: wordnet-base's. */
  wordnetDir?: string;
}

export interface DemonstrationFiles {
  train: string;
  validation: string;
  test: string;
  multipleChoice: { validation: string; test: string };
  /** Task definition files per evaluation split. */
  tasks: { validation: string[]; test: string[] };
  rows: { train: number; validation: number; test: number };
  /** Rows of each split before the limits. */
  available: { train: number; validation: number; test: number };
  skipped: { noDefinition: number; repeatedPrompt: number };
}

export function demonstrationTasks(split: 'validation' | 'test', paths: { heldout: string; multipleChoice: string }): TaskDefinitionJson[] {
  return [
    {
      name: `wordnet_mc_${split}`,
      kind: 'TASK_KIND_MULTIPLE_CHOICE',
      description: `WordNet definitions (${split} split, words never trained on): the true definition against definitions of other words, by log-likelihood`,
      dataset: { path: paths.multipleChoice, format: 'DATA_FORMAT_JSONL' },
      doc_to_text: 'question',
      doc_to_choice: 'choices',
      doc_to_target: 'label',
      // The choice is the whole assistant turn right after the chat template's generation prompt.
      no_target_delimiter: true,
      apply_chat_template: true,
      version: CORPORA_VERSION,
    },
    {
      name: `wordnet_ppl_${split}`,
      kind: 'TASK_KIND_PERPLEXITY',
      description: `WordNet definitions (${split} split): NLL of the human-written definition given the prompt`,
      dataset: { path: paths.heldout, format: 'DATA_FORMAT_JSONL', schema: 'DATA_SCHEMA_CHAT' },
      version: CORPORA_VERSION,
    },
  ];
}

export function writeDemonstrations(dir: string, o: DemonstrationOptions): DemonstrationFiles {
  const out = join(resolve(dir), 'demos');
  mkdirSync(out, { recursive: true });
  const synsets = o.synsets ?? readWordnet(o.wordnetDir);
  const all = splitDefinitions(synsets, o.seed, o.fractions, o);
  const rows = {
    train: sampleRows(all.train, o.trainLimit, corpusStream(o.seed, 1)),
    validation: sampleRows(all.validation, o.evalLimit, corpusStream(o.seed, 2)),
    test: sampleRows(all.test, o.evalLimit, corpusStream(o.seed, 3)),
  };
  const files = { train: join(out, 'train.jsonl'), validation: join(out, 'validation.jsonl'), test: join(out, 'test.jsonl') };
  for (const k of ['train', 'validation', 'test'] as const) writeFileSync(files[k], jsonl(rows[k].map(toChatRow)));
  const mc = { validation: join(out, 'validation-mc.jsonl'), test: join(out, 'test-mc.jsonl') };
  writeFileSync(mc.validation, jsonl(definitionChoices(rows.validation, o.distractors, corpusStream(o.seed, 4))));
  writeFileSync(mc.test, jsonl(definitionChoices(rows.test, o.distractors, corpusStream(o.seed, 5))));
  const tasks = { validation: [] as string[], test: [] as string[] };
  for (const split of ['validation', 'test'] as const) {
    const tdir = join(resolve(dir), 'tasks', split);
    mkdirSync(tdir, { recursive: true });
    for (const t of demonstrationTasks(split, { heldout: files[split], multipleChoice: mc[split] })) {
      const f = join(tdir, `${t.name}.json`);
      writeFileSync(f, JSON.stringify(t, null, 2) + '\n');
      tasks[split].push(f);
    }
  }
  const count = (r: { train: unknown[]; validation: unknown[]; test: unknown[] }) => ({ train: r.train.length, validation: r.validation.length, test: r.test.length });
  return { ...files, multipleChoice: mc, tasks, rows: count(rows), available: count(all), skipped: all.skipped };
}

export interface CorporaOptions {
  pretrain: PretrainCorpusOptions;
  demonstrations: DemonstrationOptions;
}

/** Both corpora and a manifest saying where they came from. */
export function writeCorpora(dir: string, o: CorporaOptions): { pretrain: PretrainCorpus; demonstrations: DemonstrationFiles; manifest: string } {
  const pretrain = writePretrainCorpus(dir, o.pretrain);
  const demonstrations = writeDemonstrations(dir, o.demonstrations);
  const manifest = join(resolve(dir), 'manifest.json');
  const strip = <T extends object>(x: T) => JSON.parse(JSON.stringify(x, (k, v: unknown) => (k === 'documents' && Array.isArray(v)) || k === 'synsets' ? undefined : v)) as T;
  writeFileSync(
    manifest,
    JSON.stringify(
      {
        version: CORPORA_VERSION,
        pretrain: { source: o.pretrain.documents ? 'documents given by the caller' : AUSTEN_SOURCE, options: strip(o.pretrain), ...pretrain },
        demonstrations: { source: o.demonstrations.synsets ? 'synsets given by the caller' : WORDNET_SOURCE, options: strip(o.demonstrations), ...demonstrations },
        splits: 'validation: hyper-parameter choice; test: the final table only',
      },
      null,
      1,
    ) + '\n',
  );
  return { pretrain, demonstrations, manifest };
}
