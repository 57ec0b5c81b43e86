// `npm run bench [-- section ...]`: every benchmark of the repo in one run, so the ratios it prints
// (against this machine's measured matmul peak) compare figures measured under the same conditions.
import { trainStepSection } from './sections/train-step.js';
import { optimizerSection } from './sections/optimizer.js';
import { matmulPeakSection } from './sections/matmul-peak.js';
import { generationSection } from './sections/generation.js';
import { servingSection } from './sections/serving.js';
import { irftRoundSection } from './sections/irft-round.js';
import type { BenchContext, Section } from './sections/types.js';

const sections: Record<string, Section> = {
  'matmul-peak': matmulPeakSection,
  'train-step': trainStepSection,
  optimizer: optimizerSection,
  generation: generationSection,
  serving: servingSection,
  'irft-round': irftRoundSection,
};

const wanted = process.argv.slice(2);
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
