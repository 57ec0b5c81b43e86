// Each role as its own process, started exactly as `juice up` starts them. Tests keep their data in
// temporary directories, so the trainer and evaluator read under the system temp directory and the
// working directory (their --data-root; a test that sets JUICE_DATA_ROOTS itself keeps its own).
import { tmpdir } from 'node:os';
import { startRoleProcess, type Role, type RoleProcess } from '@juice/cli';

export type { Role, RoleProcess as RunningRole };

export function startRole(role: Role, args: string[] = [], opts: Parameters<typeof startRoleProcess>[2] = {}): Promise<RoleProcess> {
  return startRoleProcess(role, args, { ...opts, env: { JUICE_DATA_ROOTS: `${tmpdir()},${process.cwd()}`, ...opts.env } });
}
