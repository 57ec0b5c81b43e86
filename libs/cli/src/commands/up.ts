// `juice up`: the four roles as separate processes on loopback, wired to each other. Runs until
// interrupted (Ctrl-C stops every role gracefully).
import { mkdirSync, createWriteStream } from 'node:fs';
import { join, resolve } from 'node:path';
import { homedir } from 'node:os';
import { defineConfig, parseConfig } from '@juice/service-kit';
import { startRoleProcess, type RoleProcess } from '../roles.js';

export const upSpec = defineConfig({
  store: { type: 'string', env: 'JUICE_STORE', default: join(homedir(), '.juice'), help: 'checkpoint store, job records and logs' },
  model: { type: 'string', help: 'Hugging Face model directory for the generator and reward-model' },
});

export async function upCommand(argv: string[]): Promise<number> {
  const c = parseConfig(upSpec, argv, process.env, { name: 'juice up' });
  const store = resolve(c.store);
  mkdirSync(join(store, 'logs'), { recursive: true });
  const log = (role: string) => createWriteStream(join(store, 'logs', `${role}.log`), { flags: 'a' });
  const model = c.model ? ['--model', resolve(c.model)] : [];
  const roles: RoleProcess[] = [];
  try {
    const generator = await startRoleProcess('generator', model, { logFile: log('generator') });
    roles.push(generator);
    const rewardModel = await startRoleProcess('reward-model', model, { logFile: log('reward-model') });
    roles.push(rewardModel);
    // The evaluator first: the trainer sends jobs' EvalConfig.tasks to it, and both share the store, so
    // the checkpoint references the trainer passes resolve where it writes them.
    const evaluator = await startRoleProcess('evaluator', ['--store', store], { logFile: log('evaluator') });
    roles.push(evaluator);
    roles.push(await startRoleProcess('trainer', ['--store', store, '--generator', generator.address, '--reward-model', rewardModel.address, '--evaluator', evaluator.address], { logFile: log('trainer') }));
  } catch (e) {
    await Promise.all(roles.map((r) => r.stop()));
    throw e;
  }
  for (const r of roles) process.stdout.write(`${r.role.padEnd(13)} ${r.address}\n`);
  process.stdout.write(`logs in ${join(store, 'logs')}; Ctrl-C stops all roles\n`);
  await new Promise<void>((resolveStop) => {
    process.once('SIGINT', resolveStop);
    process.once('SIGTERM', resolveStop);
  });
  const codes = await Promise.all(roles.map((r) => r.stop()));
  return codes.every((x) => x === 0) ? 0 : 1;
}
