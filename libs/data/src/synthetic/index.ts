export { SKILLS, ANSWER_REGEX, distractorResponses, type SkillName, type SyntheticProblem } from './skills.js';
export { makeSyntheticTasks, toChatRow, type SyntheticOptions, type SyntheticTasks, type MultipleChoiceRow, type GenerateRow } from './make-tasks.js';
export { syntheticTaskDefinitions, SYNTHETIC_TASKS_VERSION, type TaskDefinitionJson, type SyntheticDataPaths } from './task-definitions.js';
export { writeSyntheticDatasets, DEFAULT_SYNTHETIC_OPTIONS, type SyntheticDatasetFiles, type WrittenSyntheticDatasets } from './write-datasets.js';
