// `juice-evaluator`: evaluates a checkpoint or a live generator on log-likelihood, generation and reward tasks.
import { EvaluatorService } from '@juice/proto';
import { defineConfig, runService } from '@juice/service-kit';
import { createEvaluatorService, loadTaskDir } from './evaluator-service.js';

const configSpec = defineConfig({
  tasksDir: { type: 'string', flag: 'tasks-dir', env: 'JUICE_TASKS_DIR', help: 'directory of task definitions (*.json, protobuf JSON of juice.v1.TaskDefinition) offered by ListTasks' },
});

await runService({
  name: 'evaluator',
  description: 'juice evaluator: perplexity, multiple choice, generate-and-match and reward win-rate tasks',
  configSpec,
  async build(config) {
    const impl = createEvaluatorService({ tasks: config.tasksDir ? loadTaskDir(config.tasksDir) : [] });
    return { services: [{ desc: EvaluatorService, impl }] };
  },
});
