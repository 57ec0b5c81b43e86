// Regenerates libs/proto/src/gen from proto/juice (buf.gen.yaml), removing stale files first.
import { rmSync } from 'node:fs';
import { buf, genDir } from './buf.mjs';

rmSync(genDir, { recursive: true, force: true });
buf(['generate']);
console.log(`generated ${genDir}`);
