// Starts one juice role as its own process, the way users and deployments do (`juice-<role>` bin), and
// waits for the JSON first line that announces the bound address.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export type Role = 'generator' | 'reward-model' | 'trainer' | 'evaluator';

export interface RunningRole {
  role: Role;
  address: string;
  proc: ChildProcess;
  stderr: () => string;
  /** Sends SIGTERM and resolves with the exit code (null if killed by a signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export function binPath(role: Role): string {
  return `${repoRoot}services/${role}/bin/juice-${role}.mjs`;
}

export async function startRole(role: Role, args: string[] = [], env: NodeJS.ProcessEnv = {}, timeoutMs = 30_000): Promise<RunningRole> {
  const proc = spawn(process.execPath, [binPath(role), '--host', '127.0.0.1', '--port', '0', ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (d: string) => {
    err += d;
    if (err.length > 200_000) err = err.slice(-100_000);
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const first = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout! });
    const timer = setTimeout(() => reject(new Error(`${role} did not announce its address within ${timeoutMs} ms; stderr:\n${err}`)), timeoutMs);
    rl.once('line', (line) => {
      clearTimeout(timer);
      resolve(line);
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${role} exited with ${code} before listening; stderr:\n${err}`));
    });
  });
  const announced = JSON.parse(first) as { service: string; listening: string };
  if (announced.service !== role) throw new Error(`expected service ${role}, got ${first}`);
  return {
    role,
    address: announced.listening,
    proc,
    stderr: () => err,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}
