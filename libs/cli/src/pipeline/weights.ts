// Serving a finished checkpoint on the running generator for evaluation: its weights are pushed over
// PushWeights through the trainer's own push path (PoolWeights, a single generator being a pool of one)
// as the next version, so one generator serves every arm in turn and each evaluation pins the version it
// must see (min_weight_version). One-phase: nothing samples from the generator while the arm is pushed.
import { loadModel } from '@juice/models';
import type { GeneratorService } from '@juice/proto';
import type { createClient } from '@juice/service-kit';
import { namedTensors, oneReplica, PoolWeights } from '@juice/weight-sync';

export type GeneratorClient = ReturnType<typeof createClient<typeof GeneratorService>>;

/** Pushes the checkpoint's weights and returns the weight version now served. */
export async function serveCheckpoint(generator: GeneratorClient, dir: string, label: string): Promise<bigint> {
  const model = loadModel(dir);
  const tensors = namedTensors(model.params, model.params.entries.map((e) => e.name));
  const pushed = await new PoolWeights({ twoPhase: false }).push(oneReplica(generator), tensors, { label });
  return pushed.version;
}
