// Starting the four roles as separate processes on loopback, the way `juice up` and the end-to-end
// tests do: each prints its bound address as the first JSON line on stdout.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export type Role = 'generator' | 'reward-model' | 'trainer' | 'evaluator';
export const ROLES: readonly Role[] = ['generator', 'reward-model', 'trainer', 'evaluator'];

export interface RoleProcess {
  role: Role;
  address: string;
  proc: ChildProcess;
  /** The last ~200 kB of the role's stderr (JSON log lines), for error messages and tests. */
  stderr(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** Sends the signal (SIGTERM: graceful drain) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const servicesDir = fileURLToPath(new URL('../../../services/', import.meta.url));

export async function startRoleProcess(role: Role, args: string[] = [], opts: { env?: NodeJS.ProcessEnv; logFile?: NodeJS.WritableStream; timeoutMs?: number } = {}): Promise<RoleProcess> {
  const proc = spawn(process.execPath, [`${servicesDir}${role}/bin/juice-${role}.mjs`, '--host', '127.0.0.1', '--port', '0', ...args], {
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  proc.stderr!.on('data', (d: Buffer) => {
    opts.logFile?.write(d);
    tail += d.toString();
    if (tail.length > 400_000) tail = tail.slice(-200_000);
  });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${role} did not start within ${opts.timeoutMs ?? 60_000} ms:\n${tail.slice(-4000)}`)), opts.timeoutMs ?? 60_000);
    createInterface({ input: proc.stdout! }).once('line', (l) => {
      clearTimeout(timer);
      resolve(l);
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${role} exited with code ${code} before listening:\n${tail.slice(-4000)}`));
    });
  });
  const announced = JSON.parse(line) as { service: string; listening: string };
  if (announced.service !== role) throw new Error(`expected service ${role}, got ${line}`);
  const listening = announced.listening;
  return {
    role,
    address: listening,
    proc,
    stderr: () => tail,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}
