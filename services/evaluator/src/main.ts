// `juice-evaluator`: evaluates a checkpoint or a live generator on log-likelihood, generation and reward tasks.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { EvaluatorService } from '@juice/proto';
import { setDataRoots } from '@juice/data';
import { defineConfig, peerConfigSpec, runService } from '@juice/service-kit';
import { createEvaluatorService, loadTaskDir } from './evaluator-service.js';
import { ModelCache } from './model-cache.js';
import { RunStore } from './run-store.js';

const configSpec = defineConfig({
  // TLS and token for calling the generator / reward-model (runService installs them for every client).
  ...peerConfigSpec,
  tasksDir: { type: 'string', flag: 'tasks-dir', env: 'JUICE_TASKS_DIR', help: 'directory of task definitions (*.json, protobuf JSON of juice.v1.TaskDefinition) offered by ListTasks' },
  store: { type: 'string', flag: 'store', env: 'JUICE_STORE', default: join(homedir(), '.juice'), help: "the trainer's store: target.model.checkpoint references resolve under <store>/checkpoints" },
  modelCache: { type: 'int', flag: 'model-cache', env: 'JUICE_EVAL_MODEL_CACHE', default: 2, min: 1, max: 16, help: 'checkpoints kept loaded between runs (least recently used is closed first)' },
  runsDir: { type: 'string', flag: 'runs-dir', env: 'JUICE_EVAL_RUNS_DIR', default: '', help: 'keep runs (records, results, events) in this directory so a restarted evaluator still has them; empty = in memory only' },
  maxBatch: { type: 'int', flag: 'max-batch', env: 'JUICE_MAX_BATCH', default: 16, min: 1, max: 1024, help: 'sequences decoded together per loaded checkpoint' },
  dataRoot: { type: 'list', flag: 'data-root', env: 'JUICE_DATA_ROOTS', default: [], help: 'directory whose files evaluations may read (task data, models); repeat the flag or comma-separate for several. Symlinks are resolved first; anything else is PERMISSION_DENIED. Empty = the store, the tasks directory and the working directory' },
});

await runService({
  name: 'evaluator',
  description: 'juice evaluator: perplexity, multiple choice, generate-and-match and reward win-rate tasks',
  configSpec,
  async build(config, log) {
    const roots = setDataRoots(config.dataRoot.length ? config.dataRoot : [config.store, process.cwd(), ...(config.tasksDir ? [config.tasksDir] : [])]);
    log.info('data roots', { roots: roots.roots });
    const models = new ModelCache({ capacity: config.modelCache, maxBatch: config.maxBatch, maxQueue: 4096 });
    const runStore = config.runsDir ? new RunStore(config.runsDir) : undefined;
    const impl = createEvaluatorService({ tasks: config.tasksDir ? loadTaskDir(config.tasksDir) : [], models, store: config.store, runStore, log });
    return { services: [{ desc: EvaluatorService, impl }], onShutdown: () => models.close() };
  },
});
