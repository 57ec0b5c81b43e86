// The four roles of the main job, each its own process on loopback (started like `juice up` starts
// them), with their logs in <out>/logs. The trainer and evaluator start first; the generator and the
// reward-model need a model of the policy's shape, so they start on the SFT checkpoint once it exists.
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { startRoleProcess, type Role, type RoleProcess } from '../roles.js';

export class RunServices {
  private readonly roles: RoleProcess[] = [];
  private readonly logs: WriteStream[] = [];

  constructor(private readonly logDir: string) {
    mkdirSync(logDir, { recursive: true });
  }

  get logsDir(): string {
    return this.logDir;
  }

  async start(role: Role, args: string[]): Promise<RoleProcess> {
    const log = createWriteStream(join(this.logDir, `${role}.log`), { flags: 'a' });
    this.logs.push(log);
    const r = await startRoleProcess(role, args, { logFile: log, timeoutMs: 120_000 });
    this.roles.push(r);
    return r;
  }

  /** Starts several roles at once (their start-up is mostly module loading, which overlaps well). */
  async startAll(specs: [Role, string[]][]): Promise<RoleProcess[]> {
    const settled = await Promise.allSettled(specs.map(([role, args]) => this.start(role, args)));
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    return settled.map((s) => (s as PromiseFulfilledResult<RoleProcess>).value);
  }

  /** Graceful stop of every started role (SIGTERM drains in-flight calls). */
  async stopAll(): Promise<void> {
    await Promise.all(this.roles.splice(0).map((r) => r.stop()));
    for (const l of this.logs.splice(0)) l.end();
  }
}
