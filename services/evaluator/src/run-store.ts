// Runs on disk (opt-in, --runs-dir): one JSON file per run, rewritten atomically when its state changes
// or a task finishes, so a restarted evaluator still lists, reports and replays the runs it had. A run
// that was going when the process died cannot be resumed (its model and stream are gone): it is loaded
// as FAILED, saying so, with its finished tasks kept.
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromJson, toJson, type JsonValue } from '@bufbuild/protobuf';
import { EvalRunSchema, TaskResultSchema, WatchRunResponseSchema, type EvalRun, type TaskResult, type WatchRunResponse } from '@juice/proto';

export interface StoredRun {
  record: EvalRun;
  results: TaskResult[];
  events: WatchRunResponse[];
}

interface RunFile {
  record: JsonValue;
  results: JsonValue[];
  events: JsonValue[];
}

const RUN_FILE = /^([0-9a-z]+-[0-9a-f]+)\.json$/;

export class RunStore {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  save(run: StoredRun): void {
    const file: RunFile = {
      record: toJson(EvalRunSchema, run.record),
      results: run.results.map((r) => toJson(TaskResultSchema, r)),
      events: run.events.map((e) => toJson(WatchRunResponseSchema, e)),
    };
    const path = join(this.dir, `${run.record.runId}.json`);
    // Rename over the old file: a crash mid-write leaves the previous version, never half a file.
    const tmp = `${path}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(file));
    renameSync(tmp, path);
  }

  /** Every stored run; unreadable files are reported through `onBadFile` and skipped. */
  loadAll(onBadFile: (path: string, error: Error) => void): StoredRun[] {
    const out: StoredRun[] = [];
    for (const name of readdirSync(this.dir)) {
      if (!RUN_FILE.test(name)) continue;
      const path = join(this.dir, name);
      try {
        const f = JSON.parse(readFileSync(path, 'utf8')) as RunFile;
        out.push({
          record: fromJson(EvalRunSchema, f.record),
          results: f.results.map((r) => fromJson(TaskResultSchema, r)),
          events: f.events.map((e) => fromJson(WatchRunResponseSchema, e)),
        });
      } catch (e) {
        onBadFile(path, e as Error);
      }
    }
    return out;
  }
}
