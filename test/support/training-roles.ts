// The roles an RL job needs, each its own process: a generator (and for RFT a reward-model) started on a
// model of the default shape (the job pushes its own weights before either is used), and a trainer wired to them.
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

/** A model of the default shape for the serving roles to start on (its weights are replaced by pushes). */
function serveModel(work: string): string {
  const dir = join(work, 'serve-model');
  createDefaultModel(dir, { corpus: ['What is 1+1? 2'], seed: 9 });
  return dir;
}

/** IRFT/SPIN need only the generator: it and a trainer wired to it. */
export async function startIrftRoles(work: string): Promise<Omit<TrainingRoles, 'rewardModel'>> {
  const generator = await startRole('generator', ['--model', serveModel(work)]);
  const trainer = await startRole('trainer', ['--store', join(work, 'store'), '--generator', generator.address]);
  return { generator, trainer, stop: async () => void (await Promise.all([trainer.stop(), generator.stop()])) };
}

export async function startTrainingRoles(work: string, store = join(work, 'store')): Promise<TrainingRoles> {
  const model = serveModel(work);
  const [generator, rewardModel] = await Promise.all([startRole('generator', ['--model', model]), startRole('reward-model', ['--model', model])]);
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
