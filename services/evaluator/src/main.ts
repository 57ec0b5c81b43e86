// `juice-evaluator`: evaluates a checkpoint or a live generator on log-likelihood, generation and reward tasks.
import { EvaluatorService } from '@juice/proto';
import { defineConfig, runService } from '@juice/service-kit';
import { createEvaluatorService } from './evaluator-service.js';

const configSpec = defineConfig({});

await runService({
  name: 'evaluator',
  description: 'juice evaluator: perplexity, multiple choice, generate-and-match and reward win-rate tasks',
  configSpec,
  async build() {
    const impl = createEvaluatorService({ tasks: [] });
    return { services: [{ desc: EvaluatorService, impl }] };
  },
});
