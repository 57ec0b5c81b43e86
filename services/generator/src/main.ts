// `juice-generator`: samples completions from the current policy and takes new weights while serving.
import { GeneratorService } from '@juice/proto';
import { defineConfig, failedPrecondition, runService, unimplemented } from '@juice/service-kit';
import { createGeneratorService } from './generator-service.js';
import { ModelHost } from './model-host.js';
import { generatorMetrics } from './telemetry.js';

const configSpec = defineConfig({
  model: { type: 'string', flag: 'model', env: 'JUICE_MODEL', help: 'Hugging Face layout model directory to serve (juice creates the embedded default with `juice up`)' },
  maxBatch: { type: 'int', flag: 'max-batch', env: 'JUICE_MAX_BATCH', default: 16, min: 1, max: 1024, help: 'sequences decoded together' },
  maxQueue: { type: 'int', flag: 'max-queue', env: 'JUICE_MAX_QUEUE', default: 1024, min: 1, help: 'waiting samples beyond this are refused with RESOURCE_EXHAUSTED' },
  maxAdapters: { type: 'int', flag: 'max-adapters', env: 'JUICE_MAX_ADAPTERS', default: 0, min: 0, max: 64, help: 'named LoRA adapters served at once next to the base (lora_adapter_only pushes); 0 = none' },
});

// Set once a model is loaded (the server only listens after that); without one the replica never serves.
let servesModel = false;

const handle = await runService({
  name: 'generator',
  description: 'juice generator: batched sampling with a KV cache, teacher-forced log-probs, weight pushes',
  configSpec,
  async build(config, log) {
    if (!config.model) {
      // No model: the contract still answers (validation, clear errors), nothing is made up.
      const noModel = () => failedPrecondition('no model is configured: start the generator with --model <hf-dir> (or JUICE_MODEL)');
      log.warn('no --model given: generation RPCs answer FAILED_PRECONDITION');
      return {
        services: [
          {
            desc: GeneratorService,
            impl: {
              generate: async () => { throw noModel(); },
              generateStream: async function* () { throw noModel(); },
              scoreCompletions: async () => { throw noModel(); },
              getModelInfo: async () => { throw noModel(); },
              pushWeights: async () => { throw noModel(); },
              activateWeights: async () => { throw unimplemented('no model is loaded'); },
              removeAdapter: async () => { throw noModel(); },
            },
          },
        ],
      };
    }
    const host = await ModelHost.load({ modelDir: config.model, maxBatch: config.maxBatch, maxQueue: config.maxQueue, maxAdapters: config.maxAdapters });
    servesModel = true;
    log.info('model loaded', { model: config.model, parameters: host.model.params.numParams, architecture: host.model.config.architecture });
    return { services: [{ desc: GeneratorService, impl: createGeneratorService(host, generatorMetrics(host.engine)) }], onShutdown: () => host.close() };
  },
});

// A replica is not Ready until it serves a model: health answers NOT_SERVING for the server and the role's
// service, so readiness probes (and a k8s Service's endpoints) leave it out. Set before any call can
// arrive: runService returns in the same turn of the event loop in which the server started listening.
if (!servesModel) for (const s of ['', GeneratorService.typeName]) handle.server.health.setStatus(s, 'NOT_SERVING');
