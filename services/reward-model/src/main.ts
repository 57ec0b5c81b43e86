// `juice-reward-model`: scores (prompt, response) pairs with a scalar-head reward model; takes new weights.
import { RewardModelService } from '@juice/proto';
import { defineConfig, failedPrecondition, runService } from '@juice/service-kit';
import { RewardHost } from './reward-host.js';
import { createRewardModelService } from './reward-model-service.js';

const configSpec = defineConfig({
  model: { type: 'string', flag: 'model', env: 'JUICE_MODEL', help: 'HF model directory: a *ForSequenceClassification reward model, or a causal LM that gets a fresh score head' },
  maxBatch: { type: 'int', flag: 'max-batch', env: 'JUICE_MAX_BATCH', default: 32, min: 1, max: 4096, help: 'sequences scored in one forward pass' },
});

// Set once a model is loaded (the server only listens after that); without one the replica never serves.
let servesModel = false;

const handle = await runService({
  name: 'reward-model',
  description: 'juice reward-model: scores and compares responses, takes new weights while serving',
  configSpec,
  async build(config, log) {
    if (!config.model) {
      const noModel = () => failedPrecondition('no reward model is configured: start the reward-model with --model <hf-dir> (or JUICE_MODEL)');
      log.warn('no --model given: scoring RPCs answer FAILED_PRECONDITION');
      return {
        services: [{ desc: RewardModelService, impl: { score: async () => { throw noModel(); }, compare: async () => { throw noModel(); }, getModelInfo: async () => { throw noModel(); }, pushWeights: async () => { throw noModel(); } } }],
      };
    }
    const host = await RewardHost.load(config.model, config.maxBatch);
    servesModel = true;
    if (host.freshHead) log.warn('the model is a causal LM: serving it with a freshly initialised score head (train it with a REWARD_MODEL or RFT job)', { model: config.model });
    return { services: [{ desc: RewardModelService, impl: createRewardModelService(host) }], onShutdown: () => host.close() };
  },
});

// Not Ready until it serves a model: NOT_SERVING for the server and the role's service (see the generator's main).
if (!servesModel) for (const s of ['', RewardModelService.typeName]) handle.server.health.setStatus(s, 'NOT_SERVING');
