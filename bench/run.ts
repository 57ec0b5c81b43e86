// `npm run bench [-- section ...] [--json [file.json]] [--guard]`: every benchmark of the repo in one run,
// so the ratios it prints (against this machine's measured matmul peak and memory bandwidth, and against
// PyTorch run in the same session) compare figures measured under the same conditions.
// --json writes every figure and ratio to a file (default bench-results.json) and prints it;
// --guard runs only the short CI regression guard (bench/guard.ts) and exits non-zero below its floors.
import { writeFileSync } from 'node:fs';
import { trainStepSection } from './sections/train-step.js';
import { optimizerSection } from './sections/optimizer.js';
import { matmulPeakSection } from './sections/matmul-peak.js';
import { generationSection } from './sections/generation.js';
import { servingSection } from './sections/serving.js';
import { irftRoundSection } from './sections/irft-round.js';
import { pushSection } from './sections/push.js';
import { loadSection } from './sections/load.js';
import { loraSection } from './sections/lora.js';
import { torchSection } from './sections/torch.js';
import { trainMemorySection } from './sections/train-memory.js';
import type { BenchContext, Section } from './sections/types.js';

const sections: Record<string, Section> = {
  'matmul-peak': matmulPeakSection,
  'train-step': trainStepSection,
  optimizer: optimizerSection,
  generation: generationSection,
  serving: servingSection,
  'irft-round': irftRoundSection,
  push: pushSection,
  load: loadSection,
  lora: loraSection,
  // Training processes (D512 and ~110 M) juice vs PyTorch: step time and peak RSS, a process each.
  'train-memory': trainMemorySection,
  // Last: it prints juice's figures from the sections above beside PyTorch's.
  torch: torchSection,
};

const args = process.argv.slice(2);
if (args.includes('--guard')) {
  const { runGuard } = await import('./guard.js');
  const { ok } = await runGuard();
  process.exit(ok ? 0 : 1);
}
const jsonAt = args.indexOf('--json');
const jsonFile = jsonAt < 0 ? undefined : args[jsonAt + 1]?.endsWith('.json') ? args[jsonAt + 1]! : 'bench-results.json';
const wanted = args.filter((a, i) => a !== '--json' && !(jsonAt >= 0 && i === jsonAt + 1 && a === jsonFile));
const unknown = wanted.filter((w) => !(w in sections));
if (unknown.length) {
  console.error(`unknown section(s) ${unknown.join(', ')}; sections: ${Object.keys(sections).join(', ')}`);
  process.exit(2);
}
const ctx: BenchContext = { results: {} };
console.log(`juice bench — node ${process.version}, ${(await import('node:os')).cpus().length} cores, ${new Date().toISOString()}`);
for (const [name, run] of Object.entries(sections)) {
  // The peak is the denominator of every ratio, so it is measured whenever anything is.
  if (wanted.length && !wanted.includes(name) && name !== 'matmul-peak') continue;
  console.log(`\n## ${name}`);
  await run(ctx);
}
if (jsonFile) {
  const text = JSON.stringify({ date: new Date().toISOString(), node: process.version, results: ctx.results }, null, 2);
  writeFileSync(jsonFile, text + '\n');
  console.log(`\n## results (written to ${jsonFile})\n${text}`);
}
