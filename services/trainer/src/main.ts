// `juice-trainer`: runs training jobs (SFT, reward model, DPO, IRFT/SPIN, RFT) and calls the generator
// and reward-model over gRPC, and the evaluator for in-loop evaluation tasks.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Algorithm, TrainerService } from '@juice/proto';
import { sftRunner } from './runners/sft-runner.js';
import { dpoRunner } from './runners/dpo-runner.js';
import { irftRunner } from './runners/irft-runner.js';
import { rewardModelRunner } from './runners/reward-model-runner.js';
import { rftRunner } from './runners/rft-runner.js';
import { pretrainRunner } from './runners/pretrain-runner.js';
import { setDataRoots } from '@juice/data';
import { defineConfig, peerConfigSpec, runService } from '@juice/service-kit';
import { JobManager } from './job-manager.js';
import { JobStore } from './job-store.js';
import { createTrainerService } from './trainer-service.js';

const configSpec = defineConfig({
  // TLS and token for calling the generator / reward-model (runService installs them for every client).
  ...peerConfigSpec,
  store: { type: 'string', flag: 'store', env: 'JUICE_STORE', default: join(homedir(), '.juice'), help: 'checkpoint store and job records directory' },
  // Repeatable: the addresses form one pool (each host:port a replica; dns:///name:port = every address of name).
  generator: { type: 'list', flag: 'generator', env: 'JUICE_GENERATOR_ADDRESS', default: [], help: 'default generator pool for jobs that do not name one: host:port or dns:///name:port (every address it resolves to); repeat the flag or comma-separate for several replicas' },
  rewardModel: { type: 'list', flag: 'reward-model', env: 'JUICE_REWARD_MODEL_ADDRESS', default: [], help: 'default reward-model pool for RFT jobs that do not name one (as --generator)' },
  evaluator: { type: 'string', flag: 'evaluator', env: 'JUICE_EVALUATOR_ADDRESS', help: 'default evaluator address for jobs with evaluation.tasks that do not name one (it must share this trainer\'s --store to load its checkpoints)' },
  dataRoot: { type: 'list', flag: 'data-root', env: 'JUICE_DATA_ROOTS', default: [], help: 'directory whose files jobs may read (datasets, models); repeat the flag or comma-separate for several. Symlinks are resolved first; anything else is PERMISSION_DENIED. Empty = the store and the working directory' },
});

await runService({
  name: 'trainer',
  description: 'juice trainer: SFT, reward-model, DPO, IRFT/SPIN and RFT jobs with checkpoints and resume',
  configSpec,
  async build(config, log) {
    const roots = setDataRoots(config.dataRoot.length ? config.dataRoot : [config.store, process.cwd()]);
    log.info('data roots', { roots: roots.roots });
    const jobs = new JobManager(new JobStore(config.store), { [Algorithm.SFT]: sftRunner(), [Algorithm.DPO]: dpoRunner(), [Algorithm.IRFT]: irftRunner(config.generator), [Algorithm.SPIN]: irftRunner(config.generator), [Algorithm.REWARD_MODEL]: rewardModelRunner(), [Algorithm.RFT]: rftRunner({ generator: config.generator, rewardModel: config.rewardModel }), [Algorithm.PRETRAIN]: pretrainRunner() }, log, { evaluator: config.evaluator });
    jobs.resumeInterrupted();
    return {
      services: [{ desc: TrainerService, impl: createTrainerService(jobs) }],
      // In-flight steps finish and checkpoint; jobs stay RUNNING on disk and resume on the next start.
      onShutdown: () => jobs.stopAll(),
    };
  },
});
