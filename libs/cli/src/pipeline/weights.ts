// Serving a finished checkpoint on the running generator for evaluation: its weights are pushed over
// PushWeights (the same protocol the trainer uses) as the next version, so one generator serves every
// arm in turn and each evaluation pins the version it must see (min_weight_version).
import { loadModel } from '@juice/models';
import type { GeneratorService } from '@juice/proto';
import type { createClient } from '@juice/service-kit';
import { weightChunks } from '@juice/weight-sync';

export type GeneratorClient = ReturnType<typeof createClient<typeof GeneratorService>>;

/** Pushes the checkpoint's weights and returns the weight version now served. */
export async function serveCheckpoint(generator: GeneratorClient, dir: string, label: string): Promise<bigint> {
  const model = loadModel(dir);
  const served = (await generator.getWeightVersion({})).active?.number ?? 0n;
  const version = served + 1n;
  const tensors = new Map(model.params.entries.map((e) => [e.name, { shape: e.shape, data: model.params.view(e.name) }]));
  await generator.pushWeights(weightChunks(tensors, { version, label }));
  return version;
}
