// The roles an RL job needs, each its own process: a generator and a reward-model started on a model of
// the default shape (the job pushes its own weights before either is used), and a trainer wired to both.
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createDefaultModel } from '@juice/models';
import { startRole, type RunningRole } from './spawn-service.js';

export interface TrainingRoles {
  generator: RunningRole;
  rewardModel: RunningRole;
  trainer: RunningRole;
  stop(): Promise<void>;
}

export async function startTrainingRoles(work: string, store = join(work, 'store')): Promise<TrainingRoles> {
  const serveModel = join(work, 'serve-model');
  createDefaultModel(serveModel, { corpus: ['What is 1+1? 2'], seed: 9 });
  const [generator, rewardModel] = await Promise.all([startRole('generator', ['--model', serveModel]), startRole('reward-model', ['--model', serveModel])]);
  const trainer = await startRole('trainer', ['--store', store, '--generator', generator.address, '--reward-model', rewardModel.address]);
  return { generator, rewardModel, trainer, stop: async () => void (await Promise.all([trainer.stop(), generator.stop(), rewardModel.stop()])) };
}

/** A port free right now, for a role that must come back on the same address after it is killed. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}
