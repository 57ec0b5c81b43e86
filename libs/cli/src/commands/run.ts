// `juice run`: the main job. Starts the four roles on loopback, trains SFT on the embedded default model
// (or --model) over synthetic demonstrations (or --data), then IRFT, RFT and the fair control (SFT for
// as many extra steps) from the same SFT checkpoint, evaluates all four on held-out data and writes the
// comparison table, results.json and report.html into --out.
import { resolve } from 'node:path';
import { ConfigError, defineConfig, parseConfig } from '@juice/service-kit';
import { DEFAULT_PLAN, QUICK_PLAN, QUICK_PRETRAINED_PLAN, type RunPlan } from '../pipeline/plan.js';
import { runPipeline, type PipelineInput } from '../pipeline/run-pipeline.js';
import { runSeeds, writeSeedsReport } from '../pipeline/run-seeds.js';
import { formatSeedsTable } from '../pipeline/seeds.js';
import { formatTable } from '../pipeline/summary.js';
import { defaultBaseStore, pretrainedBase } from '../pipeline/pretrain-base.js';
import { pretrainPlanFrom } from './pretrain.js';
import { writeRunReport } from '../pipeline/write-report.js';

// 0 / unset = the plan's value (the default plan, or the quick one with --quick).
export const runSpec = defineConfig({
  out: { type: 'string', default: './juice-run', help: 'output directory: results.json, report.html, table.txt, data, store, logs' },
  quick: { type: 'bool', default: false, help: 'a reduced run (fewer rows and steps), e.g. for tests' },
  data: { type: 'string', help: 'training demonstrations (.jsonl or .parquet); default: synthetic checkable tasks made by juice' },
  evalData: { type: 'string', flag: 'eval-data', help: 'held-out demonstrations (perplexity and implicit-reward margin), with --data' },
  tasks: { type: 'string', help: 'directory of evaluator task files (protobuf JSON TaskDefinition), with --data' },
  schema: { type: 'string', default: 'chat', choices: ['chat', 'prompt-completion'], help: 'row layout of --data and --eval-data' },
  corpus: { type: 'string', default: 'none', choices: ['none', 'wordnet'], help: 'human-written demonstrations from an installed package instead of synthetic data: wordnet = WordNet definitions (apt-get install wordnet-base); --train-size / --eval-size rows, split by headword' },
  evalSplit: { type: 'string', flag: 'eval-split', default: 'test', choices: ['validation', 'test'], help: 'with --corpus: the held-out split to evaluate on (validation to choose settings, test for the final table)' },
  wordnetDir: { type: 'string', flag: 'wordnet-dir', help: 'with --corpus wordnet: the WordNet data directory (default: wordnet-base\'s /usr/share/wordnet)' },
  model: { type: 'string', help: 'Hugging Face model directory to start SFT from (default: the embedded juice-tiny)' },
  pretrain: { type: 'string', default: 'none', choices: ['none', 'austen'], help: 'start SFT from a base pretrained on Jane Austen (apt-get install r-cran-janeaustenr; see juice pretrain), taken from the base store when a run with the same plan and seed made it' },
  baseStore: { type: 'string', flag: 'base-store', help: 'with --pretrain: directory of pretrained bases (default $JUICE_BASE_STORE or ~/.cache/juice/bases)' },
  trainSize: { type: 'int', flag: 'train-size', default: 0, min: 0, help: 'synthetic training rows' },
  evalSize: { type: 'int', flag: 'eval-size', default: 0, min: 0, help: 'synthetic held-out rows' },
  sftSteps: { type: 'int', flag: 'sft-steps', default: 0, min: 0, help: 'SFT optimizer steps' },
  sftLr: { type: 'float', flag: 'sft-lr', default: 0, min: 0, help: 'SFT peak learning rate (cosine decay after the warmup)' },
  batchSize: { type: 'int', flag: 'batch-size', default: 0, min: 0, help: 'SFT sequences per step' },
  stages: { type: 'int', default: 0, min: 0, help: 'IRFT stages (regenerations)' },
  stepsPerStage: { type: 'int', flag: 'steps-per-stage', default: 0, min: 0, help: 'IRFT optimizer steps per stage (the control gets stages × this)' },
  irftBatchSize: { type: 'int', flag: 'irft-batch-size', default: 0, min: 0, help: 'IRFT pairs (and control sequences) per step' },
  irftLr: { type: 'float', flag: 'irft-lr', default: 0, min: 0, help: 'IRFT learning rate' },
  beta: { type: 'float', default: 0, min: 0, help: 'IRFT β (KL strength of the implicit reward)' },
  sftCoef: { type: 'float', flag: 'irft-sft-coef', default: -1, help: 'IRFT α: add α·SFT loss on the demonstrations (-1 = plan default)' },
  controlLr: { type: 'float', flag: 'control-lr', default: 0, min: 0, help: 'learning rate of the control\'s extra SFT steps' },
  rftRounds: { type: 'int', flag: 'rft-rounds', default: 0, min: 0, help: 'RFT rounds' },
  rftLr: { type: 'float', flag: 'rft-lr', default: 0, min: 0, help: 'RFT policy learning rate' },
  evalLimit: { type: 'int', flag: 'eval-limit', default: -1, min: -1, help: 'documents per eval task (0 = all, -1 = plan default)' },
  evalVia: { type: 'string', flag: 'eval-via', default: 'auto', choices: ['auto', 'model', 'generator'], help: 'auto: the evaluator loads each checkpoint (target.model), or, if it cannot (UNIMPLEMENTED), a generator serves it' },
  seed: { type: 'int', default: 0, min: 0, help: 'seed of the data and the jobs (0 = plan default)' },
  seeds: { type: 'int', default: 1, min: 1, help: 'run every arm this many times (seeds seed, seed+1, …; each its own SFT, into <out>/seed-<s>): the table gives mean ± 95 % CI per arm and each arm minus the control paired by seed' },
  resume: { type: 'bool', default: false, help: 'continue the run saved in --out (finished arms are kept; a rerun with the same settings continues too, other settings are refused)' },
});

type Run = ReturnType<typeof parseConfig<typeof runSpec>>;

export function planFrom(c: Run): RunPlan {
  const base = c.quick ? (c.pretrain !== 'none' ? QUICK_PRETRAINED_PLAN : QUICK_PLAN) : DEFAULT_PLAN;
  const pick = (v: number, d: number) => (v > 0 ? v : d);
  return {
    synthetic: { seed: c.seed || base.synthetic.seed, trainSize: pick(c.trainSize, base.synthetic.trainSize), evalSize: pick(c.evalSize, base.synthetic.evalSize) },
    seed: c.seed || base.seed,
    sft: { ...base.sft, steps: pick(c.sftSteps, base.sft.steps), learningRate: pick(c.sftLr, base.sft.learningRate), batchSize: pick(c.batchSize, base.sft.batchSize) },
    irft: {
      ...base.irft,
      stages: pick(c.stages, base.irft.stages),
      stepsPerStage: pick(c.stepsPerStage, base.irft.stepsPerStage),
      batchSize: pick(c.irftBatchSize, base.irft.batchSize),
      learningRate: pick(c.irftLr, base.irft.learningRate),
      beta: pick(c.beta, base.irft.beta),
      sftLossCoefficient: c.sftCoef >= 0 ? c.sftCoef : base.irft.sftLossCoefficient,
    },
    rft: { ...base.rft, rounds: pick(c.rftRounds, base.rft.rounds), learningRate: pick(c.rftLr, base.rft.learningRate) },
    control: { learningRate: pick(c.controlLr, base.control.learningRate) },
    eval: { ...base.eval, limit: c.evalLimit >= 0 ? c.evalLimit : base.eval.limit },
  };
}

export async function runCommand(argv: string[]): Promise<number> {
  const c = parseConfig(runSpec, argv, process.env, { name: 'juice run', description: 'the main job: SFT, then IRFT, RFT and an SFT control from the SFT checkpoint, evaluated on held-out data' });
  const out = resolve(c.out);
  if (c.corpus !== 'none' && c.data) throw new ConfigError('--corpus and --data both name the training data; give one');
  if (c.corpus === 'none' && (c.evalSplit !== 'test' || c.wordnetDir)) throw new ConfigError(`--${c.wordnetDir ? 'wordnet-dir' : 'eval-split'} applies to --corpus only`);
  if (c.pretrain !== 'none' && c.model) throw new ConfigError('--pretrain and --model both name the model SFT starts from; give one');
  if (c.pretrain === 'none' && c.baseStore) throw new ConfigError('--base-store applies to --pretrain only');
  const abort = new AbortController();
  const onSignal = () => abort.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const plan = planFrom(c);
    const say = (l: string) => process.stdout.write(`${l}\n`);
    // The pretrained base (made once per corpus, plan and seed) is the model every seed's SFT starts from.
    const base = c.pretrain === 'austen' ? await pretrainedBase({ store: c.baseStore || defaultBaseStore(), plan: pretrainPlanFrom({ quick: c.quick }), seed: plan.seed, say, signal: abort.signal }) : undefined;
    const input: PipelineInput = {
      out,
      plan,
      data: c.data,
      evalData: c.evalData,
      tasksDir: c.tasks,
      schema: c.schema === 'prompt-completion' ? 2 : 1,
      model: base?.dir ?? c.model,
      evalVia: c.evalVia,
      say,
      signal: abort.signal,
      resume: c.resume,
      corpus: c.corpus === 'wordnet' ? { name: 'wordnet', split: c.evalSplit, dir: c.wordnetDir } : undefined,
    };
    if (c.seeds > 1) return await runManySeeds(input, c.seeds);
    const result = await runPipeline(input);
    // Written whatever happened to the arms: a failed arm is marked in the table and results.json.
    const files = writeRunReport(out, result);
    process.stdout.write(`\n${formatTable(result)}\nreport ${files.html}\nnumbers ${files.json}\n`);
    const failed = result.arms.filter((a) => a.status === 'failed');
    if (failed.length > 0) process.stdout.write(`${failed.map((a) => a.name).join(', ')} failed; rerun the same command to retry ${failed.length > 1 ? 'them' : 'it'} (finished arms are kept in ${out})\n`);
    return failed.length > 0 ? 1 : 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** `--seeds N` (N > 1): every seed's run, then the table over seeds. Exit 1 if any seed had an arm fail. */
async function runManySeeds(input: PipelineInput, n: number): Promise<number> {
  const { summary } = await runSeeds(input, n);
  const files = writeSeedsReport(input.out, summary);
  process.stdout.write(`\n${formatSeedsTable(summary)}\nreport ${files.html}\nnumbers ${files.json}\n`);
  const failed = summary.runs.filter((r) => r.failed.length > 0);
  if (failed.length > 0) process.stdout.write(`seeds ${failed.map((r) => r.seed).join(', ')} had arms that did not finish; rerun the same command to retry them (finished arms are kept)\n`);
  return failed.length > 0 ? 1 : 0;
}
