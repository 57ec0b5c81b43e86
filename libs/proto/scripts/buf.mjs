// Shared helpers for the codegen scripts: where the repo root is and how to run buf there.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const genDir = join(repoRoot, 'libs/proto/src/gen');
/** Output path of protoc-gen-es, relative to the repo root, as written in buf.gen.yaml. */
export const genRel = 'libs/proto/src/gen';

/** Runs `buf <args>` from the repo root; exits the process with buf's status on failure. */
export function buf(args) {
  const local = join(repoRoot, 'node_modules/.bin/buf');
  const [cmd, argv] = existsSync(local) ? [local, args] : ['npx', ['--no-install', 'buf', ...args]];
  const res = spawnSync(cmd, argv, { cwd: repoRoot, stdio: 'inherit' });
  if (res.error) throw res.error;
  if (res.status !== 0) {
    console.error(`buf ${args.join(' ')} failed with status ${res.status}`);
    process.exit(res.status ?? 1);
  }
}
