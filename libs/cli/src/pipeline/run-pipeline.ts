// The main job, end to end: data → length check (fit.ts) → SFT → (IRFT, RFT, control) from the SFT
// checkpoint → evaluation of all four on held-out data → table, JSON and HTML. Every number comes from
// the services over gRPC; an arm the trainer cannot run, or that fails, is reported as such and the
// others still run. Each finished arm is kept in <out>/run-state.json (run-state.ts), so a rerun into
// the same --out continues where the last one stopped.
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { toJson } from '@bufbuild/protobuf';
import { CorpusNotInstalledError, fileDigest, loadDemonstrations, promptToDisplayText, writeDemonstrations, writeSyntheticDatasets } from '@juice/data';
import { createDefaultModel } from '@juice/models';
import { EvaluatorService, GeneratorService, TaskDefinitionSchema, TrainerService, type TaskDefinition } from '@juice/proto';
import { ConfigError, createClient } from '@juice/service-kit';
import { controlSpec, irftSpec, rftSpec, sftSpec, type ArmInputs } from './arms.js';
import { evaluateCheckpoint, heldoutPerplexityTask, loadTaskFiles, type EvalContext } from './evaluate.js';
import { runJob, type JobOutcome } from './jobs.js';
import { marginStats, scoreMarginSet, sftNegatives, type MarginScores, type MarginSet } from './margin.js';
import { irftSteps, type RunPlan } from './plan.js';
import { describeFit, fitDemonstrations, fitDir, modelLimits, requireRows, type LengthLimits } from './fit.js';
import { RunState, type RunSettings } from './run-state.js';
import { ARM_NAMES, type ArmKey, type ArmResult, type RunResult, type SplitNote } from './result.js';
import { RunServices } from './services.js';
import { serveCheckpoint } from './weights.js';

const ARM_KEYS: ArmKey[] = ['sft', 'irft', 'rft', 'control'];

export interface PipelineInput {
  out: string;
  plan: RunPlan;
  /** The user's training demonstrations; unset = synthetic data made in <out>/data. */
  data?: string;
  /** DataSchema of --data / --eval-data: 1 CHAT, 2 PROMPT_COMPLETION. */
  schema: 1 | 2;
  /** Held-out demonstrations (perplexity and margin). */
  evalData?: string;
  /** Directory of task definition JSON files (multiple choice, generate-and-match, ...). */
  tasksDir?: string;
  /** Base model directory for SFT; unset = the embedded default. */
  model?: string;
  /** How checkpoints reach the evaluator (see evaluate.ts); auto = model with the generator as fallback. */
  evalVia: 'auto' | 'model' | 'generator';
  /** Plain output lines (the table goes to stdout, progress to stderr). */
  say: (line: string) => void;
  signal?: AbortSignal;
  /** Insist on continuing the run saved in --out (a rerun with the same settings continues anyway). */
  resume?: boolean;
  /**
   * Human-written demonstrations from a packaged corpus instead of synthetic data (libs/data corpora):
   * rows sized by plan.synthetic (train / eval sizes), split by plan.synthetic.seed; `split` says which
   * held-out split the tasks read (validation to choose settings, test for the final table).
   */
  corpus?: { name: 'wordnet'; split: 'validation' | 'test'; dir?: string };
  /** Which data chose the settings and which the table measures; default: said from the data given. */
  splits?: SplitNote;
}

/** The honest default: the plan was tuned on the synthetic held-out problems that the table also reports. */
export function defaultSplits(input: Pick<PipelineInput, 'data' | 'evalData' | 'tasksDir' | 'corpus'>): SplitNote {
  if (input.corpus)
    return {
      tuning: `the plan's settings (tuned on the synthetic data, or the flags given); to choose settings on this corpus compare runs with --eval-split validation, then report once with --eval-split test`,
      table:
        input.corpus.split === 'test'
          ? `the ${input.corpus.name} test split (headwords never trained on; used for nothing else)`
          : `the ${input.corpus.name} validation split (for choosing settings: not the final table)`,
    };
  if (!input.data)
    return {
      tuning: "the plan's learning rates, β and steps (plan.ts) were chosen on the synthetic held-out problems (data seed 0), the same split this table reports: no separate validation split, so the tuned arms' numbers are optimistic",
      table: 'the synthetic held-out problems (never trained on)',
    };
  return {
    tuning: "the plan's defaults (tuned on the synthetic data) or the flags given; nothing was chosen on --eval-data / --tasks",
    table: [input.evalData && `--eval-data ${input.evalData}`, input.tasksDir && `--tasks ${input.tasksDir}`].filter(Boolean).join(' and ') || 'the given tasks',
  };
}

interface Data {
  train: string;
  heldout?: string;
  tasks: TaskDefinition[];
  synthetic: boolean;
  trainRows?: number;
}

async function prepareData(input: PipelineInput): Promise<Data> {
  if (input.data) {
    const tasks = input.tasksDir ? loadTaskFiles(resolve(input.tasksDir)) : [];
    if (input.evalData) tasks.push(heldoutPerplexityTask(resolve(input.evalData), input.schema));
    if (tasks.length === 0) throw new ConfigError('with --data, give --eval-data (held-out demonstrations) and/or --tasks (a directory of task files) to evaluate on');
    return { train: resolve(input.data), heldout: input.evalData ? resolve(input.evalData) : undefined, tasks, synthetic: false };
  }
  if (input.corpus) return corpusData(input, input.corpus);
  const dir = join(input.out, 'data');
  const written = await writeSyntheticDatasets(dir, input.plan.synthetic);
  return { train: written.files.train, heldout: written.files.heldout, tasks: loadTaskFiles(join(dir, 'tasks')), synthetic: true, trainRows: written.data.train.length };
}

/** Held-out share of each evaluation split of a packaged corpus (by headword). */
export const CORPUS_FRACTIONS = { validation: 0.05, test: 0.05 };

function corpusData(input: PipelineInput, corpus: NonNullable<PipelineInput['corpus']>): Data {
  const dir = join(input.out, 'data');
  let w;
  try {
    w = writeDemonstrations(dir, { seed: input.plan.synthetic.seed, fractions: CORPUS_FRACTIONS, trainLimit: input.plan.synthetic.trainSize, evalLimit: input.plan.synthetic.evalSize, distractors: 3, wordnetDir: corpus.dir });
  } catch (e) {
    if (e instanceof CorpusNotInstalledError) throw new ConfigError(`--corpus ${corpus.name}: ${e.message}`);
    throw e;
  }
  const heldout = w[corpus.split];
  // The multiple-choice file as written; perplexity as heldout_ppl so it reads the length-checked copy.
  const tasks = loadTaskFiles(join(dir, 'tasks', corpus.split)).filter((t) => !t.name.startsWith('wordnet_ppl'));
  tasks.push(heldoutPerplexityTask(heldout, 1));
  return { train: w.train, heldout, tasks, synthetic: false, trainRows: w.rows.train };
}

/** The settings a saved run must share to be continued: the plan, the model, the data by content. */
async function runSettings(input: PipelineInput, data: Data): Promise<RunSettings> {
  const digest = async (path: string | undefined) => (path ? { path, sha256: (await fileDigest(path, input.signal)).sha256 } : null);
  return {
    plan: input.plan,
    schema: input.schema,
    evalVia: input.evalVia,
    model: input.model ? { dir: resolve(input.model), config: await digest(join(resolve(input.model), 'config.json')) } : 'juice-tiny',
    train: await digest(data.train),
    heldout: await digest(data.heldout),
    tasks: data.tasks.map((t) => toJson(TaskDefinitionSchema, t)),
  };
}

/**
 * The model SFT starts from, as a directory: the user's, or the embedded default made here (the same
 * weights and tokenizer the trainer would make: seed = the plan's, tokenizer trained on the whole
 * training file) so its tokenizer can check the data before anything trains.
 */
function baseModelDir(input: PipelineInput, demos: readonly { prompt: Parameters<typeof promptToDisplayText>[0]; response: string }[], fresh: boolean): string {
  if (input.model) return resolve(input.model);
  const dir = join(input.out, 'base-model');
  if (fresh) rmSync(dir, { recursive: true, force: true });
  if (!existsSync(join(dir, 'config.json'))) createDefaultModel(dir, { corpus: demos.map((d) => `${promptToDisplayText(d.prompt)}\n${d.response}`), seed: input.plan.seed });
  return dir;
}

/** Training and held-out files cut to the rows that fit (fit.ts), each reported in one line. */
async function fitData(input: PipelineInput, data: Data, modelDir: string): Promise<{ train: string; heldout?: string; limits: LengthLimits }> {
  const { tokenizer, limits } = modelLimits(modelDir);
  const dir = fitDir(input.out);
  const train = await fitDemonstrations(tokenizer, data.train, input.schema, limits, join(dir, 'train.jsonl'), input.signal);
  input.say(`check: ${describeFit(train, limits)}`);
  requireRows(train, limits, '--data');
  let heldout: string | undefined;
  if (data.heldout) {
    const h = await fitDemonstrations(tokenizer, data.heldout, input.schema, limits, join(dir, 'heldout.jsonl'), input.signal);
    input.say(`check: ${describeFit(h, limits)}`);
    requireRows(h, limits, '--eval-data');
    heldout = h.fitted;
  }
  return { train: train.fitted, heldout, limits };
}

const messageOf = (e: unknown) => ((e as Error).message ?? String(e)).split('\n')[0]!;

function armFrom(key: ArmKey, o: JobOutcome): ArmResult {
  const base = { key, name: ARM_NAMES[key], curve: [], pushes: [], steps: 0, trainSeconds: 0 };
  if (o.status === 'unavailable') return { ...base, status: 'unavailable', note: o.message };
  if (o.status === 'failed') return { ...base, status: 'failed', note: o.message, jobId: o.jobId, curve: o.steps, pushes: o.pushes, trainSeconds: o.seconds };
  return { ...base, status: 'ok', jobId: o.jobId, checkpoint: o.checkpoint, curve: o.steps, pushes: o.pushes, steps: o.totalSteps, trainSeconds: o.seconds };
}

export async function runPipeline(input: PipelineInput): Promise<RunResult> {
  const t0 = performance.now();
  const startedAt = new Date().toISOString();
  const loadavgStart = loadavg();
  const out = resolve(input.out);
  mkdirSync(out, { recursive: true });
  const plan = input.plan;
  const phases: Record<string, number> = {};
  const phase = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const s = performance.now();
    try {
      return await fn();
    } finally {
      phases[name] = (phases[name] ?? 0) + (performance.now() - s) / 1000;
    }
  };

  const data = await phase('data', () => prepareData({ ...input, out }));
  input.say(`data: ${data.train}${data.synthetic ? ` (synthetic, ${data.trainRows} rows)` : ''}; evaluating on ${data.tasks.map((t) => t.name).join(', ')}`);
  // Before anything trains: the saved run (if any) must match, and every row must fit the model.
  const { state, resumed } = RunState.open(out, await runSettings(input, data), { resume: input.resume });
  const kept = ARM_KEYS.filter((k) => state.arm(k)?.trained.status === 'ok');
  if (resumed) input.say(`resuming ${out}: ${kept.length ? `keeping ${kept.map((k) => ARM_NAMES[k]).join(', ')}` : 'no arm had finished'}`);
  const fitted = await phase('check', async () => {
    const demos = input.model ? [] : await loadDemonstrations({ path: data.train, schema: input.schema }, { signal: input.signal });
    const modelDir = baseModelDir({ ...input, out }, demos, !resumed);
    return { modelDir, ...(await fitData({ ...input, out }, data, modelDir)) };
  });
  // The held-out perplexity task reads the fitted copy, like the margin (the same rows for both).
  const tasks = data.tasks.map((t) => (t.name === 'heldout_ppl' && fitted.heldout ? heldoutPerplexityTask(fitted.heldout, input.schema) : t));

  const services = new RunServices(join(out, 'logs'));
  const clients: { close(): void }[] = [];
  const arms = {} as Record<ArmKey, ArmResult>;
  const failed = (key: ArmKey, note: string): ArmResult => ({ key, name: ARM_NAMES[key], status: 'failed', note, steps: 0, trainSeconds: 0, curve: [], pushes: [] });
  /** A finished arm from the saved run whose checkpoint is still there; else undefined. */
  const keptArm = (key: ArmKey): ArmResult | undefined => {
    const saved = state.arm(key)?.trained;
    return saved?.status === 'ok' && saved.checkpoint && existsSync(saved.checkpoint) ? saved : undefined;
  };
  let ctx: EvalContext | undefined;
  let marginSet: MarginSet | undefined = state.data.margin?.set;
  let sftScores: MarginScores | undefined = state.data.margin?.sft;
  try {
    // The services read request-named files only under their data roots: the run directory and what the user named.
    const roots = [out, input.data, input.evalData, input.tasksDir, input.model].filter((p): p is string => !!p).flatMap((p) => ['--data-root', resolve(p)]);
    const [trainerRole, evaluatorRole] = await phase('services', () => services.startAll([['trainer', ['--store', join(out, 'store'), ...roots]], ['evaluator', roots]]));
    const trainer = createClient(TrainerService, trainerRole!.address);
    const evaluator = createClient(EvaluatorService, evaluatorRole!.address);
    clients.push(trainer, evaluator);
    // Jobs of an interrupted run: a restarted trainer resumes them by itself; they are redone instead.
    for (const [key, jobId] of Object.entries(state.data.started)) {
      await trainer.cancelJob({ jobId, reason: 'juice run resumed: the arm is run again' }).catch(() => undefined);
      input.say(`${key}: the interrupted job ${jobId} is cancelled and the arm run again`);
    }
    const inputs: ArmInputs = { plan, train: fitted.train, schema: input.schema, baseModel: fitted.modelDir };

    /** Trains one arm unless the saved run finished it; a failure is the arm's result, not the run's end. */
    const train = async (key: ArmKey, run: () => Promise<JobOutcome>): Promise<void> => {
      const saved = keptArm(key);
      if (saved) {
        arms[key] = saved;
        input.say(`${ARM_NAMES[key]}: kept from the earlier run (job ${saved.jobId}, ${saved.steps} steps)`);
        return;
      }
      try {
        arms[key] = armFrom(key, await phase(key, run));
      } catch (e) {
        if (input.signal?.aborted) throw e;
        arms[key] = failed(key, messageOf(e));
      }
      state.trained(arms[key]);
    };
    const onStarted = (key: ArmKey) => (jobId: string) => state.started(key, jobId);

    await train('sft', () => runJob(trainer, 'sft', sftSpec(inputs), input.signal, onStarted('sft')));
    const sft = arms.sft;
    if (sft.status !== 'ok') {
      for (const k of ARM_KEYS) if (k !== 'sft') arms[k] = failed(k, 'not run: it starts from the SFT checkpoint, and SFT did not finish');
    } else {
      const sftCkpt = sft.checkpoint!;
      // The serving roles start on the SFT checkpoint: the policy's shape and tokenizer.
      const [genStart, rmStart] = await phase('services', () => Promise.allSettled([services.start('generator', ['--model', sftCkpt]), services.start('reward-model', ['--model', sftCkpt])]));
      if (genStart.status === 'rejected') throw genStart.reason;
      const generatorAddress = genStart.value.address;
      const generator = createClient(GeneratorService, generatorAddress);
      clients.push(generator);

      await train('irft', () => runJob(trainer, 'irft', irftSpec(inputs, sftCkpt, generatorAddress), input.signal, onStarted('irft')));
      if (rmStart.status === 'fulfilled') await train('rft', () => runJob(trainer, 'rft', rftSpec(inputs, sftCkpt, generatorAddress, rmStart.value.address), input.signal, onStarted('rft')));
      else arms.rft = failed('rft', `the reward-model did not start on the SFT checkpoint: ${messageOf(rmStart.reason)}`);
      await train('control', () => runJob(trainer, 'control', controlSpec(inputs, sftCkpt), input.signal, onStarted('control')));
      if (arms.control.status === 'ok' && arms.irft.status === 'ok' && arms.control.steps !== arms.irft.steps)
        input.say(`note: the control took ${arms.control.steps} steps, IRFT ${arms.irft.steps} (planned ${irftSteps(plan)} each)`);

      // Evaluation: every arm on the same held-out tasks, and the implicit-reward margin against SFT.
      const ectx: EvalContext = { evaluator, generator, generatorAddress, tasks, limit: plan.eval.limit, batchSize: plan.eval.batchSize, seed: plan.seed, path: input.evalVia === 'generator' ? 'generator' : 'model', strict: input.evalVia === 'model' };
      ctx = ectx;
      await phase('eval', async () => {
        const heldout = fitted.heldout ? (await loadDemonstrations({ path: fitted.heldout, schema: input.schema }, { signal: input.signal })).slice(0, plan.eval.marginLimit || undefined) : [];
        for (const key of ARM_KEYS) {
          const arm = arms[key];
          if (arm.status !== 'ok') continue;
          if (state.arm(key)?.evaluated && arm.eval) {
            input.say(`${arm.name}: evaluation kept from the earlier run`);
            continue;
          }
          try {
            const version = await serveCheckpoint(generator, arm.checkpoint!, `eval/${key}`);
            if (heldout.length > 0) {
              // The negatives are SFT's own answers, so they are made while SFT is served (and saved).
              if (key === 'sft') {
                marginSet = await sftNegatives(generator, version, heldout, plan.irft.maxNewTokens);
                sftScores = await scoreMarginSet(generator, version, marginSet);
                state.setMargin(marginSet, sftScores);
              }
              if (marginSet && sftScores) arm.margin = marginStats(await scoreMarginSet(generator, version, marginSet), sftScores, plan.irft.beta);
            }
            arm.eval = await evaluateCheckpoint(ectx, key, arm.checkpoint!, version);
            state.evaluated(arm);
          } catch (e) {
            if (input.signal?.aborted) throw e;
            // The trained arm stays saved (a rerun evaluates it again); this run reports it failed.
            arms[key] = { ...arm, status: 'failed', note: `evaluation failed: ${messageOf(e)}` };
          }
        }
      });
    }
  } finally {
    for (const c of clients) c.close();
    await services.stopAll();
  }

  const result: RunResult = {
    version: 1,
    startedAt,
    wallSeconds: (performance.now() - t0) / 1000,
    plan,
    data: { train: data.train, heldout: data.heldout, tasks: tasks.map((t) => t.name), synthetic: data.synthetic, trainRows: data.trainRows },
    model: input.model ? resolve(input.model) : `juice-tiny (embedded default, made in ${fitted.modelDir})`,
    evalPath: ctx?.path ?? (input.evalVia === 'generator' ? 'generator' : 'model'),
    evalPathNote: ctx?.fallbackReason,
    margin: { beta: plan.irft.beta, considered: marginSet?.considered ?? 0, pairs: marginSet?.prompts.length ?? 0, identical: marginSet?.identical ?? 0, empty: marginSet?.empty ?? 0 },
    phases,
    machine: { cpus: cpus().length, loadavgStart, loadavgEnd: loadavg() },
    arms: ARM_KEYS.map((k) => arms[k]),
    splits: input.splits ?? defaultSplits(input),
  };
  return result;
}
