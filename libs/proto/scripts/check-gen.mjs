// Fails (exit 1) when libs/proto/src/gen differs from what buf.gen.yaml produces now:
// regenerates into a temp dir and compares file sets and contents.
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { buf, genDir, genRel } from './buf.mjs';

function listFiles(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

const tmp = mkdtempSync(join(tmpdir(), 'juice-proto-gen-'));
try {
  buf(['generate', '--output', tmp]);
  const fresh = join(tmp, genRel);
  const want = listFiles(fresh);
  const have = listFiles(genDir);
  const problems = [];
  for (const f of want) {
    if (!have.includes(f)) problems.push(`missing: ${genRel}/${f}`);
    else if (!readFileSync(join(fresh, f)).equals(readFileSync(join(genDir, f)))) problems.push(`stale: ${genRel}/${f}`);
  }
  for (const f of have) if (!want.includes(f)) problems.push(`extra: ${genRel}/${f}`);
  if (problems.length > 0) {
    console.error(`generated code is out of date with proto/ (run \`npm run gen\`):\n  ${problems.join('\n  ')}`);
    process.exitCode = 1;
  } else {
    console.log(`${genRel} is up to date (${want.length} files)`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
