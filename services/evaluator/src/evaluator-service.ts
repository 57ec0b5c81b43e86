// The Evaluator contract. This build validates evaluation requests (targets, inline task definitions,
// regexes) and lists its tasks; running an evaluation needs the model engine and answers UNIMPLEMENTED
// until it lands.
import type { EvaluatorService, EvalRun, TaskDefinition } from '@juice/proto';
import { validateEvaluate, validateListRuns } from '@juice/proto';
import { fileDigest } from '@juice/data';
import { invalidArgument, notFound, rejectInvalid, unimplemented, withField, type ServiceImpl } from '@juice/service-kit';

export interface EvaluatorOptions {
  /** Registered tasks (ListTasks); built-in tasks join them with the task library. */
  tasks: TaskDefinition[];
}

function requireId(field: string, id: string): void {
  if (id.length === 0) throw invalidArgument(field, 'is required');
}

export function createEvaluatorService(opts: EvaluatorOptions): Partial<ServiceImpl<typeof EvaluatorService>> {
  const runs = new Map<string, EvalRun>();
  const taskNames = new Set(opts.tasks.map((t) => t.name));
  const lookup = (id: string): EvalRun => {
    const run = runs.get(id);
    if (!run) throw notFound(`evaluation run "${id}" does not exist (ListRuns shows the known runs)`);
    return run;
  };

  return {
    async evaluate(req, ctx) {
      rejectInvalid(validateEvaluate(req));
      for (const [i, t] of req.tasks.entries()) {
        if (t.kind.case === 'name' && !taskNames.has(t.kind.value)) {
          throw notFound(`tasks[${i}].name: no task named "${t.kind.value}" (ListTasks shows the registered tasks; or send an inline definition)`);
        }
        // Inline tasks: the data must be readable (and is hashed for the report) before a run is accepted.
        if (t.kind.case === 'definition' && t.kind.value.dataset) {
          await withField(`tasks[${i}].definition.dataset.path`, fileDigest(t.kind.value.dataset.path, ctx.signal));
        }
      }
      throw unimplemented('running evaluations needs the model engine, which this build of the evaluator does not have yet');
    },
    async *watchRun(req) {
      requireId('run_id', req.runId);
      lookup(req.runId);
    },
    async getReport(req) {
      requireId('run_id', req.runId);
      return { run: lookup(req.runId), results: [] };
    },
    async listRuns(req) {
      rejectInvalid(validateListRuns(req));
      if (req.pageToken) throw invalidArgument('page_token', 'is not a token this evaluator issued (start with an empty token)');
      return { runs: [], nextPageToken: '' };
    },
    async cancelRun(req) {
      requireId('run_id', req.runId);
      return { run: lookup(req.runId) };
    },
    async listTasks() {
      return { tasks: opts.tasks };
    },
  };
}
