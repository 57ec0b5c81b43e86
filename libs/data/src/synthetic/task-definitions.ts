// Evaluator tasks over the synthetic held-out data, as juice.v1.TaskDefinition in protobuf JSON
// (camelCase field names and enum value names, as protobuf-es toJson emits), so they load with
// fromJson(TaskDefinitionSchema, …) or straight from the files writeSyntheticDatasets writes.
import { ANSWER_REGEX } from './skills.js';

/** The subset of juice.v1.TaskDefinition's protobuf JSON these tasks use. */
export interface TaskDefinitionJson {
  name: string;
  kind: 'TASK_KIND_PERPLEXITY' | 'TASK_KIND_MULTIPLE_CHOICE' | 'TASK_KIND_GENERATE_MATCH';
  description: string;
  dataset: { path: string; format: 'DATA_FORMAT_JSONL'; schema?: 'DATA_SCHEMA_CHAT' };
  docToText?: string;
  docToTarget?: string;
  docToChoice?: string;
  noTargetDelimiter?: boolean;
  generation?: { temperature: number; maxNewTokens: number };
  answerRegex?: string;
  applyChatTemplate?: boolean;
  metrics?: string[];
  version: string;
}

export interface SyntheticDataPaths {
  heldout: string;
  multipleChoice: string;
  generate: string;
}

/** Bumped when the generator or the tasks change, so reports say which data they measured. */
export const SYNTHETIC_TASKS_VERSION = '1';

export function syntheticTaskDefinitions(paths: SyntheticDataPaths): TaskDefinitionJson[] {
  return [
    {
      name: 'synthetic_gen',
      kind: 'TASK_KIND_GENERATE_MATCH',
      description: 'Held-out synthetic skills (addition, reversal, sorting, counting): greedy answer, exact match',
      dataset: { path: paths.generate, format: 'DATA_FORMAT_JSONL' },
      docToText: 'question',
      docToTarget: 'answer',
      applyChatTemplate: true,
      // Responses are under 30 tokens; greedy so the score is a property of the model, not the seed.
      generation: { temperature: 0, maxNewTokens: 48 },
      answerRegex: ANSWER_REGEX,
      version: SYNTHETIC_TASKS_VERSION,
    },
    {
      name: 'synthetic_mc',
      kind: 'TASK_KIND_MULTIPLE_CHOICE',
      description: 'Held-out synthetic skills: the correct response against 3 near misses, by log-likelihood',
      dataset: { path: paths.multipleChoice, format: 'DATA_FORMAT_JSONL' },
      docToText: 'question',
      docToChoice: 'choices',
      docToTarget: 'label',
      // The choice is the whole assistant turn right after the chat template's generation prompt.
      noTargetDelimiter: true,
      applyChatTemplate: true,
      version: SYNTHETIC_TASKS_VERSION,
    },
    {
      name: 'synthetic_ppl',
      kind: 'TASK_KIND_PERPLEXITY',
      description: 'Held-out synthetic demonstrations: NLL of the response given the prompt',
      dataset: { path: paths.heldout, format: 'DATA_FORMAT_JSONL', schema: 'DATA_SCHEMA_CHAT' },
      version: SYNTHETIC_TASKS_VERSION,
    },
  ];
}
