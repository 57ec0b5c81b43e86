// The main job, end to end: data → SFT → (IRFT, RFT, control) from the SFT checkpoint → evaluation of
// all four on held-out data → table, JSON and HTML. Every number comes from the services over gRPC;
// an arm the trainer cannot run is reported as such.
import { mkdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { loadDemonstrations, writeSyntheticDatasets } from '@juice/data';
import { EvaluatorService, GeneratorService, TrainerService, type TaskDefinition } from '@juice/proto';
import { ConfigError, createClient } from '@juice/service-kit';
import { controlSpec, irftSpec, rftSpec, sftSpec, type ArmInputs } from './arms.js';
import { evaluateCheckpoint, heldoutPerplexityTask, loadTaskFiles, type EvalContext } from './evaluate.js';
import { runJob, type JobOutcome } from './jobs.js';
import { marginStats, scoreMarginSet, sftNegatives, type MarginScores, type MarginSet } from './margin.js';
import { irftSteps, type RunPlan } from './plan.js';
import { ARM_NAMES, type ArmKey, type ArmResult, type RunResult } from './result.js';
import { RunServices } from './services.js';
import { serveCheckpoint } from './weights.js';

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
  const dir = join(input.out, 'data');
  const written = await writeSyntheticDatasets(dir, input.plan.synthetic);
  return { train: written.files.train, heldout: written.files.heldout, tasks: loadTaskFiles(join(dir, 'tasks')), synthetic: true, trainRows: written.data.train.length };
}

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

  const data = await phase('data', () => prepareData(input));
  input.say(`data: ${data.train}${data.synthetic ? ` (synthetic, ${data.trainRows} rows)` : ''}; evaluating on ${data.tasks.map((t) => t.name).join(', ')}`);
  const services = new RunServices(join(out, 'logs'));
  const clients: { close(): void }[] = [];
  try {
    const [trainerRole, evaluatorRole] = await phase('services', () => services.startAll([['trainer', ['--store', join(out, 'store')]], ['evaluator', []]]));
    const trainer = createClient(TrainerService, trainerRole!.address);
    const evaluator = createClient(EvaluatorService, evaluatorRole!.address);
    clients.push(trainer, evaluator);
    const inputs: ArmInputs = { plan, train: data.train, schema: input.schema, baseModel: input.model ? resolve(input.model) : undefined };

    const sftOutcome = await phase('sft', () => runJob(trainer, 'sft', sftSpec(inputs), input.signal));
    if (sftOutcome.status !== 'succeeded') throw new Error(`the SFT job ${sftOutcome.status === 'unavailable' ? 'is not available' : 'failed'}: ${sftOutcome.message}`);
    const sftCkpt = sftOutcome.checkpoint;
    const arms: Record<ArmKey, ArmResult> = { sft: armFrom('sft', sftOutcome) } as Record<ArmKey, ArmResult>;

    // The serving roles start on the SFT checkpoint: the policy's shape and tokenizer.
    const [genStart, rmStart] = await phase('services', () => Promise.allSettled([services.start('generator', ['--model', sftCkpt]), services.start('reward-model', ['--model', sftCkpt])]));
    if (genStart.status === 'rejected') throw genStart.reason;
    const generatorAddress = genStart.value.address;
    const generator = createClient(GeneratorService, generatorAddress);
    clients.push(generator);

    arms.irft = armFrom('irft', await phase('irft', () => runJob(trainer, 'irft', irftSpec(inputs, sftCkpt, generatorAddress), input.signal)));
    if (rmStart.status === 'fulfilled') arms.rft = armFrom('rft', await phase('rft', () => runJob(trainer, 'rft', rftSpec(inputs, sftCkpt, generatorAddress, rmStart.value.address), input.signal)));
    else arms.rft = { key: 'rft', name: ARM_NAMES.rft, status: 'failed', note: `the reward-model did not start on the SFT checkpoint: ${(rmStart.reason as Error).message.split('\n')[0]}`, steps: 0, trainSeconds: 0, curve: [], pushes: [] };
    arms.control = armFrom('control', await phase('control', () => runJob(trainer, 'control', controlSpec(inputs, sftCkpt), input.signal)));
    if (arms.control.status === 'ok' && arms.irft.status === 'ok' && arms.control.steps !== arms.irft.steps)
      input.say(`note: the control took ${arms.control.steps} steps, IRFT ${arms.irft.steps} (planned ${irftSteps(plan)} each)`);

    // Evaluation: every arm on the same held-out tasks, and the implicit-reward margin against SFT.
    const ctx: EvalContext = { evaluator, generator, generatorAddress, tasks: data.tasks, limit: plan.eval.limit, batchSize: plan.eval.batchSize, seed: plan.seed, path: input.evalVia === 'generator' ? 'generator' : 'model', strict: input.evalVia === 'model' };
    let marginSet: MarginSet | undefined;
    let sftScores: MarginScores | undefined;
    const order: ArmKey[] = ['sft', 'irft', 'rft', 'control'];
    await phase('eval', async () => {
      const heldout = data.heldout ? (await loadDemonstrations({ path: data.heldout, schema: input.schema }, { signal: input.signal })).slice(0, plan.eval.marginLimit || undefined) : [];
      for (const key of order) {
        const arm = arms[key];
        if (arm.status !== 'ok') continue;
        const version = await serveCheckpoint(generator, arm.checkpoint!, `eval/${key}`);
        if (heldout.length > 0) {
          if (key === 'sft') {
            marginSet = await sftNegatives(generator, version, heldout, plan.irft.maxNewTokens);
            sftScores = await scoreMarginSet(generator, version, marginSet);
          }
          arm.margin = marginStats(await scoreMarginSet(generator, version, marginSet!), sftScores!, plan.irft.beta);
        }
        arm.eval = await evaluateCheckpoint(ctx, key, arm.checkpoint!, version);
      }
    });

    const result: RunResult = {
      version: 1,
      startedAt,
      wallSeconds: (performance.now() - t0) / 1000,
      plan,
      data: { train: data.train, heldout: data.heldout, tasks: data.tasks.map((t) => t.name), synthetic: data.synthetic, trainRows: data.trainRows },
      model: input.model ? resolve(input.model) : 'juice-tiny (embedded default, created by the SFT job)',
      evalPath: ctx.path,
      evalPathNote: ctx.fallbackReason,
      margin: { beta: plan.irft.beta, considered: marginSet?.considered ?? 0, pairs: marginSet?.prompts.length ?? 0, identical: marginSet?.identical ?? 0, empty: marginSet?.empty ?? 0 },
      phases,
      machine: { cpus: cpus().length, loadavgStart, loadavgEnd: loadavg() },
      arms: order.map((k) => arms[k]),
    };
    return result;
  } finally {
    for (const c of clients) c.close();
    await services.stopAll();
  }
}
