// The Evaluator contract: evaluate a live generator or a checkpoint loaded here on registered or inline
// lm-eval-style tasks, watch the run, fetch its report (JSON metrics and a self-contained HTML page),
// list and cancel runs.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromJson, type JsonValue } from '@bufbuild/protobuf';
import type { EvaluatorService, TaskDefinition } from '@juice/proto';
import { TaskDefinitionSchema, TaskKind, echo, validateEvaluate, validateId, validateListRuns, validateTaskDefinition, Violations } from '@juice/proto';
import { requestDataPath } from '@juice/data';
import { failedPrecondition, invalidArgument, notFound, rejectInvalid, withField, type ServiceImpl } from '@juice/service-kit';
import type { ModelCache, ModelLease } from './model-cache.js';
import { resolveModelDir } from './model-source.js';
import type { RunStore } from './run-store.js';
import { RunManager } from './runs.js';

export interface EvaluatorOptions {
  /** Registered tasks (ListTasks), e.g. loaded from a directory of task JSON files. */
  tasks: TaskDefinition[];
  /** Checkpoints loaded for EvalTarget.model (shared by runs, bounded). */
  models: ModelCache;
  /** Checkpoint store root (the trainer's --store) for ModelSource.checkpoint references. */
  store: string;
  /** Keeps runs across restarts; absent = in memory only. */
  runStore?: RunStore;
  log?: { warn(message: string, attrs?: Record<string, unknown>): void };
}

/** Task definitions from *.json files (protobuf JSON of TaskDefinition); relative dataset paths are taken from the file's directory. */
export function loadTaskDir(dir: string): TaskDefinition[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const t = fromJson(TaskDefinitionSchema, JSON.parse(readFileSync(join(dir, f), 'utf8')) as JsonValue);
      const v = new Violations();
      validateTaskDefinition(v, f, t);
      if (!v.ok) throw new Error(`${join(dir, f)}: ${v.list[0]!.field}: ${v.list[0]!.problem}`);
      if (t.dataset && !t.dataset.path.startsWith('/')) t.dataset.path = join(dir, t.dataset.path);
      return t;
    });
}

function requireId(field: string, id: string): void {
  rejectInvalid(validateId(field, id));
}

export function createEvaluatorService(opts: EvaluatorOptions): Partial<ServiceImpl<typeof EvaluatorService>> {
  const registered = new Map(opts.tasks.map((t) => [t.name, t]));
  const runs = new RunManager(opts.runStore, (m, a) => opts.log?.warn(m, a));
  runs.restore((path, e) => opts.log?.warn('skipping an unreadable stored evaluation run', { path, error: e.message }));
  const lookup = (id: string) => {
    requireId('run_id', id);
    const run = runs.get(id);
    if (!run) throw notFound(`evaluation run ${echo(id)} does not exist (ListRuns shows the known runs)`);
    return run;
  };

  return {
    async evaluate(req, ctx) {
      rejectInvalid(validateEvaluate(req));
      if (req.requestId) {
        const prior = runs.findByRequestId(req.requestId);
        if (prior) return { runId: prior.record.runId, run: prior.record };
      }
      const tasks: TaskDefinition[] = [];
      for (const [i, t] of req.tasks.entries()) {
        if (t.kind.case === 'name') {
          const def = registered.get(t.kind.value);
          if (!def) throw notFound(`tasks[${i}].name: no task named ${echo(t.kind.value)} (ListTasks shows the registered tasks; or send an inline definition)`);
          tasks.push(def);
        } else if (t.kind.case === 'definition') {
          // Inline tasks: the path must be one this evaluator reads (under its data roots, a regular file or
          // a directory) before a run is accepted; the data itself is read and hashed by the run, off the
          // request path, so a huge file cannot hold the call.
          const ds = t.kind.value.dataset;
          if (ds) await withField(`tasks[${i}].definition.dataset.path`, async () => requestDataPath(ds.path, 'dataset.path'));
          tasks.push(t.kind.value);
        }
      }
      const target = req.target!;
      const needsReward = tasks.find((t) => t.kind === TaskKind.REWARD_WIN_RATE);
      if (needsReward && !target.rewardModelAddress) throw failedPrecondition(`task "${needsReward.name}" is REWARD_WIN_RATE: set target.reward_model_address to a reward-model that compares the answers`);
      // The model is loaded before the run is accepted, so a wrong path or a broken checkpoint is this
      // call's status (NOT_FOUND / INVALID_ARGUMENT / FAILED_PRECONDITION), not a failed run later.
      if (target.adapter && target.kind.case !== 'model') throw invalidArgument('target.adapter', 'is an adapter directory merged into target.model; for a live generator name the adapter it serves in target.adapter_name');
      if (target.adapterName && target.kind.case !== 'generatorAddress') throw invalidArgument('target.adapter_name', 'names an adapter a live generator serves (target.generator_address); for a loaded model give the adapter directory in target.adapter');
      let lease: ModelLease | undefined;
      if (target.kind.case === 'model') {
        const source = target.kind.value;
        const { dir, field } = await resolveModelDir(source, opts.store);
        if (target.adapter && !target.adapter.kind.case) throw invalidArgument('target.adapter', 'give the PEFT adapter as hf_dir (a directory with adapter_config.json) or checkpoint');
        const adapter = target.adapter ? await resolveModelDir(target.adapter, opts.store, 'target.adapter') : undefined;
        lease = await withField(adapter?.field ?? field, opts.models.acquire(dir, source.expectedSha256, adapter && { dir: adapter.dir, expectedSha256: target.adapter!.expectedSha256 }));
        // A caller that gave up while the model loaded gets no run (the model stays cached for a retry).
        if (ctx.signal.aborted) {
          lease.release();
          ctx.signal.throwIfAborted();
        }
      }
      // The same request sent again while this one loaded its model: one run, as with any retry.
      const raced = req.requestId ? runs.findByRequestId(req.requestId) : undefined;
      if (raced) {
        lease?.release();
        return { runId: raced.record.runId, run: raced.record };
      }
      const run = runs.start(req, tasks, lease);
      return { runId: run.record.runId, run: run.record };
    },
    async *watchRun(req, ctx) {
      yield* runs.watch(lookup(req.runId), req.fromBeginning, ctx.signal);
    },
    async getReport(req) {
      const run = lookup(req.runId);
      const report = runs.report(run, req.includeHtml);
      return { ...report, results: req.includeSamples ? report.results : report.results.map((r) => ({ ...r, samples: [] })) };
    },
    async listRuns(req) {
      rejectInvalid(validateListRuns(req));
      const size = req.pageSize || 50;
      const offset = req.pageToken ? Number(Buffer.from(req.pageToken, 'base64url').toString()) : 0;
      if (!Number.isInteger(offset) || offset < 0) throw invalidArgument('page_token', 'is not a token this evaluator issued (start with an empty token)');
      const matching = runs.list().filter((r) => (req.states.length === 0 || req.states.includes(r.record.state)) && Object.entries(req.labels).every(([k, v]) => r.record.labels[k] === v));
      return { runs: matching.slice(offset, offset + size).map((r) => r.record), nextPageToken: offset + size < matching.length ? Buffer.from(String(offset + size)).toString('base64url') : '' };
    },
    async cancelRun(req) {
      const run = lookup(req.runId);
      runs.cancel(run);
      return { run: run.record };
    },
    async listTasks() {
      return { tasks: [...registered.values()] };
    },
  };
}
