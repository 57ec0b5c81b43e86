// The `juice` command: one subcommand per task, each a thin gRPC client (or process launcher).
import { ConfigError, HelpRequested } from '@juice/service-kit';
import { evalCommand } from './commands/eval.js';
import { generateCommand } from './commands/generate.js';
import { mergeCommand } from './commands/merge.js';
import { pretrainCommand } from './commands/pretrain.js';
import { reportCommand } from './commands/report.js';
import { runCommand } from './commands/run.js';
import { scoreCommand } from './commands/score.js';
import { trainCommand } from './commands/train.js';
import { upCommand } from './commands/up.js';

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<number>; help: string }> = {
  up: { run: upCommand, help: 'start generator, reward-model, trainer and evaluator on loopback' },
  run: { run: runCommand, help: 'the main job: SFT, then IRFT, RFT and an SFT control, evaluated and compared' },
  train: { run: trainCommand, help: 'start a training job and follow its progress' },
  pretrain: { run: pretrainCommand, help: 'pretrain the real-text base on Jane Austen (kept in the base store for juice run --pretrain austen)' },
  generate: { run: generateCommand, help: 'sample completions from a generator' },
  score: { run: scoreCommand, help: 'score or compare responses with a reward-model' },
  eval: { run: evalCommand, help: 'evaluate a checkpoint or a live generator on tasks; prints metrics, writes the report' },
  merge: { run: mergeCommand, help: 'merge a PEFT LoRA adapter into its base model (--base DIR --adapter DIR --out DIR)' },
  report: { run: reportCommand, help: 'fetch evaluation reports (JSON + HTML); several runs side by side' },
};

function usage(): string {
  const lines = ['Usage: juice <command> [options]   (juice <command> --help for its options)', '', 'Commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(10)} ${c.help}`);
  return lines.join('\n') + '\n';
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    process.stderr.write(`juice: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    if (e instanceof HelpRequested) {
      process.stdout.write(e.text);
      return 0;
    }
    if (e instanceof ConfigError) {
      process.stderr.write(`juice ${name}: ${e.message}\n`);
      return 2;
    }
    const err = e as Error & { codeName?: string };
    process.stderr.write(`juice ${name}: ${err.codeName ? `${err.codeName}: ` : ''}${err.message}\n`);
    return 1;
  }
}
