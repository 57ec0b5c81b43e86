// Evaluation runs: started by Evaluate, run in the background against a live generator or a checkpoint
// loaded in the evaluator (and a reward-model for win-rate tasks), watched as a stream of progress and
// task results, reported as JSON and HTML. Runs are kept in memory, and on disk with a RunStore (a
// restarted evaluator then still has them).
import { EventEmitter, on } from 'node:events';
import { randomBytes } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import { generatorEvalModel, reportHtml, reportJson, rewardModelScorer, runEvaluation } from '@juice/eval';
import { ErrorDetailSchema, EvalRunSchema, RunState, WatchRunResponseSchema, type EvalRun, type EvaluateRequest, type TaskDefinition, type TaskResult, type WatchRunResponse } from '@juice/proto';
import { endpointList, GeneratorPool, RewardModelPool } from '@juice/service-kit';
import { localGenerator } from './local-generator.js';
import type { ModelLease } from './model-cache.js';
import type { RunStore } from './run-store.js';

type Event = NonNullable<Parameters<typeof create<typeof WatchRunResponseSchema>>[1]>['event'];

interface Run {
  record: EvalRun;
  results: TaskResult[];
  events: WatchRunResponse[];
  abort: AbortController;
}

const TERMINAL = new Set([RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED]);

export class RunManager {
  private readonly runs = new Map<string, Run>();
  private readonly bus = new EventEmitter();
  private readonly byRequestId = new Map<string, string>();

  constructor(
    private readonly store?: RunStore,
    private readonly warn: (message: string, attrs: Record<string, string>) => void = () => undefined,
  ) {
    this.bus.setMaxListeners(0);
  }

  /** Runs of an earlier process from the store; those it did not finish become FAILED (UNAVAILABLE). */
  restore(onBadFile: (path: string, error: Error) => void): number {
    if (!this.store) return 0;
    const stored = this.store.loadAll(onBadFile);
    for (const s of stored) {
      const run: Run = { ...s, abort: new AbortController() };
      this.runs.set(s.record.runId, run);
      if (s.record.request?.requestId) this.byRequestId.set(s.record.request.requestId, s.record.runId);
      if (!TERMINAL.has(s.record.state)) {
        const detail = create(ErrorDetailSchema, { code: 'UNAVAILABLE', message: `the evaluator restarted while this run was ${RunState[s.record.state]}; its ${s.results.length} finished task(s) are kept. Start it again (run.request holds the request)` });
        run.record.error = detail;
        this.emit(run, { case: 'error', value: detail });
        this.setState(run, RunState.FAILED);
      }
    }
    return stored.length;
  }

  get(id: string): Run | undefined {
    return this.runs.get(id);
  }

  list(): Run[] {
    return [...this.runs.values()].sort((a, b) => (a.record.runId < b.record.runId ? 1 : -1));
  }

  findByRequestId(id: string): Run | undefined {
    const runId = this.byRequestId.get(id);
    return runId ? this.runs.get(runId) : undefined;
  }

  /** `lease`: the loaded model of a target.model run, released when the run ends. */
  start(req: EvaluateRequest, tasks: TaskDefinition[], lease?: ModelLease): Run {
    const runId = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    const record = create(EvalRunSchema, { runId, name: req.name, labels: req.labels, state: RunState.PENDING, target: req.target, tasks: tasks.map((t) => t.name), createdAt: timestampNow(), request: req });
    const run: Run = { record, results: [], events: [], abort: new AbortController() };
    this.runs.set(runId, run);
    if (req.requestId) this.byRequestId.set(req.requestId, runId);
    this.persist(run);
    void this.execute(run, req, tasks, lease);
    return run;
  }

  cancel(run: Run): void {
    if (!TERMINAL.has(run.record.state)) run.abort.abort();
  }

  async *watch(run: Run, fromBeginning: boolean, signal: AbortSignal): AsyncGenerator<WatchRunResponse> {
    const live = on(this.bus, run.record.runId, { signal });
    let last = 0n;
    if (fromBeginning) {
      for (const e of run.events) {
        yield e;
        last = e.sequence;
      }
    } else {
      yield create(WatchRunResponseSchema, { sequence: BigInt(run.events.length), time: timestampNow(), runId: run.record.runId, event: { case: 'state', value: run.record.state } });
      last = BigInt(run.events.length);
    }
    if (TERMINAL.has(run.record.state)) return;
    try {
      for await (const [e] of live as AsyncIterable<[WatchRunResponse]>) {
        if (e.sequence <= last) continue;
        last = e.sequence;
        yield e;
        if (e.event.case === 'state' && TERMINAL.has(e.event.value)) return;
      }
    } catch (e) {
      if ((e as Error).name !== 'AbortError') throw e;
    }
  }

  report(run: Run, html: boolean) {
    // google.protobuf.Struct fields are plain JSON objects in protobuf-es.
    const metrics = reportJson(run.record, run.results);
    return { run: run.record, results: run.results, metrics, html: html ? reportHtml(run.record, run.results) : '' };
  }

  private emit(run: Run, event: Event): void {
    const msg = create(WatchRunResponseSchema, { sequence: BigInt(run.events.length + 1), time: timestampNow(), runId: run.record.runId, event });
    run.events.push(msg);
    this.bus.emit(run.record.runId, msg);
  }

  private setState(run: Run, state: RunState): void {
    run.record.state = state;
    if (state === RunState.RUNNING) run.record.startedAt = timestampNow();
    if (TERMINAL.has(state)) run.record.finishedAt = timestampNow();
    this.emit(run, { case: 'state', value: state });
    this.persist(run);
  }

  private persist(run: Run): void {
    // Saved at state changes and task results (not per progress event): what a restart must not lose.
    // A failed write (disk full) is logged, not thrown: the run itself is fine and keeps serving from memory.
    try {
      this.store?.save(run);
    } catch (e) {
      this.warn('could not save the evaluation run', { run_id: run.record.runId, error: (e as Error).message });
    }
  }

  private async execute(run: Run, req: EvaluateRequest, tasks: TaskDefinition[], lease: ModelLease | undefined): Promise<void> {
    const target = req.target!;
    // A live generator (and reward model) is a pool: a comma list of addresses or dns:///name:port (every
    // address); the batches are spread over the replicas, each answer from one weight version.
    let remote: GeneratorPool | undefined;
    let reward: RewardModelPool | undefined;
    try {
      remote = target.kind.case === 'generatorAddress' ? await GeneratorPool.open(endpointList([target.kind.value]), { reresolveMs: 30_000 }) : undefined;
      reward = target.rewardModelAddress ? await RewardModelPool.open(endpointList([target.rewardModelAddress]), { reresolveMs: 30_000 }) : undefined;
      this.setState(run, RunState.RUNNING);
      const generator = lease ? localGenerator(lease.lm, lease.lm.info) : remote;
      if (!generator) throw new Error('the run has neither a loaded model nor a generator address');
      // A loaded checkpoint has one version (0): min_weight_version only applies to a live generator.
      const model = generatorEvalModel(generator, { batchSize: req.batchSize || 16, minWeightVersion: lease ? 0n : target.minWeightVersion, adapter: target.adapterName });
      run.record.model = (await generator.getModelInfo!({})).model;
      const held = run.record.model?.adapters.map((a) => a.name) ?? [];
      if (target.adapterName && !held.includes(target.adapterName)) {
        throw Object.assign(new Error(`target.adapter_name: the generator does not serve an adapter ${JSON.stringify(target.adapterName.slice(0, 64))} (held: ${held.join(', ') || 'none'})`), { grpcCode: 'NOT_FOUND' });
      }
      await runEvaluation(
        tasks.map((t) => {
          const sel = req.tasks.find((s) => (s.kind.case === 'name' ? s.kind.value : s.kind.value?.name) === t.name);
          return { task: t, limit: sel?.limit || undefined, numFewshot: sel?.numFewshot };
        }),
        model,
        {
          limit: req.limit || undefined,
          batchSize: req.batchSize || 16,
          seed: req.seed || 1234n,
          logSamples: req.logSamples,
          rewardScorer: reward ? rewardModelScorer(reward) : undefined,
          signal: run.abort.signal,
          onProgress: (p) => this.emit(run, { case: 'progress', value: { task: p.task, taskIndex: p.taskIndex, docsDone: BigInt(p.docsDone), docsTotal: BigInt(p.docsTotal), fraction: p.fraction } }),
          onTaskResult: (r) => {
            run.results.push(r);
            this.emit(run, { case: 'taskResult', value: { ...r, samples: [] } });
            this.persist(run);
          },
        },
      );
      this.setState(run, RunState.SUCCEEDED);
    } catch (e) {
      if (run.abort.signal.aborted) this.setState(run, RunState.CANCELLED);
      else {
        const err = e as Error & { codeName?: string; grpcCode?: string };
        const detail = create(ErrorDetailSchema, { code: err.codeName ?? err.grpcCode ?? 'INTERNAL', message: err.message });
        run.record.error = detail;
        this.emit(run, { case: 'error', value: detail });
        this.setState(run, RunState.FAILED);
      }
    } finally {
      remote?.close();
      reward?.close();
      lease?.release();
    }
  }
}
