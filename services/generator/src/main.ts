// `juice-generator`: samples completions from the current policy and takes new weights while serving.
import { GeneratorService } from '@juice/proto';
import { defineConfig, runService } from '@juice/service-kit';
import { createGeneratorService } from './generator-service.js';

const configSpec = defineConfig({
  model: { type: 'string', flag: 'model', env: 'JUICE_MODEL', help: 'Hugging Face layout model directory to serve' },
});

await runService({
  name: 'generator',
  description: 'juice generator: batched sampling with a KV cache, teacher-forced log-probs, weight pushes',
  configSpec,
  async build(config) {
    const impl = await createGeneratorService({ modelDir: config.model });
    return { services: [{ desc: GeneratorService, impl }] };
  },
});
