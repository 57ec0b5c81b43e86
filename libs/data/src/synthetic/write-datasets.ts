// Writes the synthetic datasets and task definitions to a directory, for the main job (`juice up`)
// to train on and evaluate with. Dataset paths inside the task files are absolute, so the evaluator
// finds them whatever its working directory.
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { makeSyntheticTasks, toChatRow, type SyntheticOptions, type SyntheticTasks } from './make-tasks.js';
import { syntheticTaskDefinitions, type TaskDefinitionJson } from './task-definitions.js';

export interface SyntheticDatasetFiles {
  /** CHAT rows for training. */
  train: string;
  /** CHAT rows held out (perplexity task). */
  heldout: string;
  /** Multiple-choice documents. */
  multipleChoice: string;
  /** Generate-and-match documents. */
  generate: string;
  /** One TaskDefinition JSON file per task, tasks/<name>.json. */
  tasks: string[];
}

export interface WrittenSyntheticDatasets {
  files: SyntheticDatasetFiles;
  tasks: TaskDefinitionJson[];
  data: SyntheticTasks;
  /** Texts to train the default tokenizer on. */
  tokenizerCorpus: string[];
}

export const DEFAULT_SYNTHETIC_OPTIONS: SyntheticOptions = { seed: 0, trainSize: 4000, evalSize: 200 };

const jsonl = (rows: readonly unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '');

export async function writeSyntheticDatasets(dir: string, options: SyntheticOptions = DEFAULT_SYNTHETIC_OPTIONS): Promise<WrittenSyntheticDatasets> {
  const root = resolve(dir);
  await mkdir(join(root, 'tasks'), { recursive: true });
  const data = makeSyntheticTasks(options);
  const paths = { train: join(root, 'train.jsonl'), heldout: join(root, 'heldout.jsonl'), multipleChoice: join(root, 'mc.jsonl'), generate: join(root, 'gen.jsonl') };
  await writeFile(paths.train, jsonl(data.train.map(toChatRow)));
  await writeFile(paths.heldout, jsonl(data.heldout.map(toChatRow)));
  await writeFile(paths.multipleChoice, jsonl(data.multipleChoice));
  await writeFile(paths.generate, jsonl(data.generate));
  const tasks = syntheticTaskDefinitions(paths);
  const taskFiles: string[] = [];
  for (const t of tasks) {
    const file = join(root, 'tasks', `${t.name}.json`);
    await writeFile(file, JSON.stringify(t, null, 2) + '\n');
    taskFiles.push(file);
  }
  return { files: { ...paths, tasks: taskFiles }, tasks, data, tokenizerCorpus: data.tokenizerCorpus };
}
