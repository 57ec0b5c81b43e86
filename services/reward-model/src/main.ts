// `juice-reward-model`: scores (prompt, response) pairs with a scalar-head reward model; takes new weights.
import { RewardModelService } from '@juice/proto';
import { defineConfig, runService } from '@juice/service-kit';
import { createRewardModelService } from './reward-model-service.js';

const configSpec = defineConfig({
  model: { type: 'string', flag: 'model', env: 'JUICE_MODEL', help: 'Hugging Face layout reward model directory (*ForSequenceClassification) to serve' },
});

await runService({
  name: 'reward-model',
  description: 'juice reward-model: scores and compares responses, takes new weights while serving',
  configSpec,
  async build(config) {
    const impl = await createRewardModelService({ modelDir: config.model });
    return { services: [{ desc: RewardModelService, impl }] };
  },
});
