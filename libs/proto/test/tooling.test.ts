import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = resolve(pkgDir, '../..');

function run(cmd: string, args: string[], cwd: string): { status: number | null; output: string } {
  const res = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 60_000 });
  return { status: res.status, output: `${res.stdout ?? ''}${res.stderr ?? ''}` };
}

test('buf lint passes (STANDARD rules, proto/onnx ignored)', () => {
  const res = run('npx', ['--no-install', 'buf', 'lint'], repoRoot);
  assert.equal(res.status, 0, res.output);
});

test('generated code is up to date with proto/ (check:gen)', () => {
  const res = run(process.execPath, [join(pkgDir, 'scripts/check-gen.mjs')], pkgDir);
  assert.equal(res.status, 0, res.output);
});
