// Evaluator tasks over the synthetic held-out data, as juice.v1.TaskDefinition in protobuf JSON.
// Field names are the .proto names (snake_case), which every protobuf JSON parser accepts besides
// the camelCase json_name, so the files read like the .proto a user looks up and load with
// fromJson(TaskDefinitionSchema, …); enum values are their names, as protobuf JSON writes them.
import { ANSWER_REGEX } from './skills.js';

/** The subset of juice.v1.TaskDefinition's protobuf JSON these tasks use. */
export interface TaskDefinitionJson {
  name: string;
  kind: 'TASK_KIND_PERPLEXITY' | 'TASK_KIND_MULTIPLE_CHOICE' | 'TASK_KIND_GENERATE_MATCH';
  description: string;
  dataset: { path: string; format: 'DATA_FORMAT_JSONL'; schema?: 'DATA_SCHEMA_CHAT' };
  doc_to_text?: string;
  doc_to_target?: string;
  doc_to_choice?: string;
  no_target_delimiter?: boolean;
  generation?: { temperature: number; max_new_tokens: number };
  answer_regex?: string;
  apply_chat_template?: boolean;
  metrics?: string[];
  version: string;
}

export interface SyntheticDataPaths {
  heldout: string;
  multipleChoice: string;
  generate: string;
}

/** Bumped when the generator or the tasks change, so reports say which data they measured. */
export const SYNTHETIC_TASKS_VERSION = '2';

export function syntheticTaskDefinitions(paths: SyntheticDataPaths): TaskDefinitionJson[] {
  return [
    {
      name: 'synthetic_gen',
      kind: 'TASK_KIND_GENERATE_MATCH',
      description: 'Held-out synthetic skills (addition, subtraction, reversal, sorting, counting): greedy answer, exact match',
      dataset: { path: paths.generate, format: 'DATA_FORMAT_JSONL' },
      doc_to_text: 'question',
      doc_to_target: 'answer',
      apply_chat_template: true,
      // Responses are under 30 tokens; greedy so the score is a property of the model, not the seed.
      generation: { temperature: 0, max_new_tokens: 48 },
      answer_regex: ANSWER_REGEX,
      version: SYNTHETIC_TASKS_VERSION,
    },
    {
      name: 'synthetic_mc',
      kind: 'TASK_KIND_MULTIPLE_CHOICE',
      description: 'Held-out synthetic skills: the correct response against 3 near misses, by log-likelihood',
      dataset: { path: paths.multipleChoice, format: 'DATA_FORMAT_JSONL' },
      doc_to_text: 'question',
      doc_to_choice: 'choices',
      doc_to_target: 'label',
      // The choice is the whole assistant turn right after the chat template's generation prompt.
      no_target_delimiter: true,
      apply_chat_template: true,
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
