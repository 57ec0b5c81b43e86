// Job records and their event logs on disk, so a trainer that restarts (or is killed) finds every job,
// its state, its checkpoints and the events a client may replay with WatchJob from_beginning.
// Layout: <root>/jobs/<id>/job.json (rewritten atomically: temp file, fsync, rename) and
// <root>/jobs/<id>/events.jsonl (append-only, one WatchJobResponse in protobuf JSON per line).
import { mkdirSync, readdirSync, readFileSync, existsSync, openSync, writeSync, fsyncSync, closeSync, renameSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromJsonString, toJsonString } from '@bufbuild/protobuf';
import { JobSchema, WatchJobResponseSchema, type Job, type WatchJobResponse } from '@juice/proto';

export class JobStore {
  private readonly dir: string;

  constructor(readonly root: string) {
    this.dir = join(root, 'jobs');
    mkdirSync(this.dir, { recursive: true });
  }

  jobDir(id: string): string {
    return join(this.dir, id);
  }

  /** Every stored job; unreadable records are reported, not fatal (one bad file must not hide the rest). */
  loadAll(onError: (id: string, e: Error) => void): Job[] {
    const jobs: Job[] = [];
    for (const id of readdirSync(this.dir)) {
      const file = join(this.dir, id, 'job.json');
      if (!existsSync(file)) continue;
      try {
        jobs.push(fromJsonString(JobSchema, readFileSync(file, 'utf8'), { ignoreUnknownFields: true }));
      } catch (e) {
        onError(id, e as Error);
      }
    }
    return jobs;
  }

  save(job: Job): void {
    const dir = this.jobDir(job.id);
    mkdirSync(dir, { recursive: true });
    const tmp = join(dir, `.job.json.${process.pid}.tmp`);
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, toJsonString(JobSchema, job, { prettySpaces: 1 }));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(dir, 'job.json'));
  }

  appendEvent(id: string, event: WatchJobResponse): void {
    appendFileSync(join(this.jobDir(id), 'events.jsonl'), toJsonString(WatchJobResponseSchema, event) + '\n');
  }

  events(id: string): WatchJobResponse[] {
    const file = join(this.jobDir(id), 'events.jsonl');
    if (!existsSync(file)) return [];
    const out: WatchJobResponse[] = [];
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      // A crash mid-append can leave a torn last line; everything before it is intact.
      if (!line) continue;
      try {
        out.push(fromJsonString(WatchJobResponseSchema, line, { ignoreUnknownFields: true }));
      } catch {
        break;
      }
    }
    return out;
  }
}
