// `juice eval`: evaluate a checkpoint (loaded by the evaluator) or a live generator on registered and/or
// inline tasks; follows the run with a progress bar, prints the metrics and writes the report.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fromJson, type JsonValue } from '@bufbuild/protobuf';
import { EvaluatorService, RunState, TaskDefinitionSchema, type TaskDefinition } from '@juice/proto';
import { ConfigError, applyPeerConfig, createClient, defineConfig, parseConfig, peerConfigSpec } from '@juice/service-kit';
import { metricsTable } from '../eval-table.js';
import { Progress } from '../progress.js';
import { fetchReport, writeReport } from './report.js';

export const evalSpec = defineConfig({
  ...peerConfigSpec, // --peer-tls-ca/-cert/-key and --peer-token-file: how to reach a secured role
  evaluator: { type: 'string', env: 'JUICE_EVALUATOR_ADDRESS', default: '127.0.0.1:50054', help: 'evaluator address' },
  model: { type: 'string', help: "checkpoint directory (Hugging Face layout, e.g. a trainer checkpoint) for the evaluator to load; a path on the evaluator's file system" },
  generator: { type: 'string', help: 'address of a live generator to evaluate instead of --model' },
  tasks: { type: 'list', default: [], help: 'registered task names (ListTasks; the evaluator --tasks-dir), comma separated' },
  taskFile: { type: 'list', flag: 'task-file', default: [], help: 'inline task files: protobuf JSON of juice.v1.TaskDefinition (or a JSON array of them); relative dataset paths are from the file' },
  limit: { type: 'int', default: 0, min: 0, help: 'documents per task (0 = all)' },
  batchSize: { type: 'int', flag: 'batch-size', default: 0, min: 0, max: 1024, help: 'requests per model call (0 = 16)' },
  seed: { type: 'int', default: 0, min: 0, help: 'few-shot and sampling seed (0 = 1234)' },
  rewardModel: { type: 'string', flag: 'reward-model', default: '', help: 'reward-model address (needed by REWARD_WIN_RATE tasks)' },
  name: { type: 'string', default: '', help: 'run name' },
  logSamples: { type: 'int', flag: 'log-samples', default: 0, min: 0, help: 'per-document records kept in the report, per task' },
  out: { type: 'string', help: 'directory for report.json and report.html' },
});

/** Task definitions from a file; dataset paths made absolute, since the evaluator resolves them on its own. */
export function readTaskFile(path: string): TaskDefinition[] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ConfigError(`--task-file ${path}: ${(e as Error).message}`);
  }
  return (Array.isArray(json) ? json : [json]).map((j, i) => {
    let t: TaskDefinition;
    try {
      t = fromJson(TaskDefinitionSchema, j as JsonValue);
    } catch (e) {
      throw new ConfigError(`--task-file ${path}${Array.isArray(json) ? `[${i}]` : ''}: not a juice.v1.TaskDefinition: ${(e as Error).message}`);
    }
    if (t.dataset?.path && !isAbsolute(t.dataset.path)) t.dataset.path = join(dirname(resolve(path)), t.dataset.path);
    return t;
  });
}

export async function evalCommand(argv: string[]): Promise<number> {
  const c = parseConfig(evalSpec, argv, process.env, { name: 'juice eval', description: 'Evaluate a checkpoint (--model) or a live generator (--generator) on lm-eval-style tasks.' });
  applyPeerConfig(c);
  if ((c.model === undefined) === (c.generator === undefined)) throw new ConfigError('give exactly one of --model DIR (a checkpoint the evaluator loads) or --generator ADDR (a live generator)');
  const inline = c.taskFile.flatMap(readTaskFile);
  if (c.tasks.length === 0 && inline.length === 0) throw new ConfigError('no tasks: give --tasks name,... (registered on the evaluator) and/or --task-file FILE.json');

  const client = createClient(EvaluatorService, c.evaluator);
  let runId = '';
  // Ctrl-C cancels the run on the evaluator too, instead of leaving it computing for nobody.
  const onSigint = () => {
    if (runId) void client.cancelRun({ runId }).catch(() => undefined);
  };
  process.once('SIGINT', onSigint);
  try {
    const res = await client.evaluate({
      target: {
        kind: c.model !== undefined ? { case: 'model', value: { kind: { case: 'hfDir', value: resolve(c.model) } } } : { case: 'generatorAddress', value: c.generator! },
        rewardModelAddress: c.rewardModel,
      },
      tasks: [...c.tasks.map((n) => ({ kind: { case: 'name' as const, value: n } })), ...inline.map((t) => ({ kind: { case: 'definition' as const, value: t } }))],
      limit: c.limit,
      batchSize: c.batchSize,
      seed: BigInt(c.seed),
      name: c.name,
      logSamples: c.logSamples,
    });
    runId = res.runId;
    process.stdout.write(`run ${runId}\n`);
    const bar = new Progress(`eval ${runId}`);
    let state = RunState.UNSPECIFIED;
    for await (const e of client.watchRun({ runId, fromBeginning: true })) {
      if (e.event.case === 'progress') bar.update(e.event.value.fraction, `${e.event.value.task} ${e.event.value.docsDone}/${e.event.value.docsTotal}`);
      else if (e.event.case === 'state') state = e.event.value;
      else if (e.event.case === 'error') process.stderr.write(`\nerror: ${e.event.value.code}: ${e.event.value.message}\n`);
    }
    bar.done(RunState[state]);
    const report = await fetchReport(client, runId, { html: c.out !== undefined, samples: c.logSamples > 0 });
    if (report.results.length > 0) process.stdout.write(metricsTable(report.results));
    if (c.out !== undefined) for (const f of writeReport(report, resolve(c.out))) process.stdout.write(`wrote ${f}\n`);
    if (state !== RunState.SUCCEEDED) {
      const err = report.run?.error;
      process.stderr.write(`run ${runId} ended ${RunState[state]}${err ? `: ${err.code}: ${err.message}` : ''}\n`);
      return 1;
    }
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
    client.close();
  }
}
