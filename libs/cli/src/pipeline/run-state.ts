// The main job's bookkeeping in --out, so a run that stops (an arm that fails, Ctrl-C, a crash) keeps
// what it finished: <out>/run-state.json holds the run's settings and, per arm, its result as soon as
// the arm is trained (checkpoint reference, curves) and again once it is evaluated (metrics, margin).
// A rerun into the same --out with the same settings (or `juice run --resume`) skips finished arms;
// a rerun with different settings is refused, naming what changed, so no table mixes two setups.
// The file is rewritten atomically (temp file + rename): a crash mid-write leaves the previous state.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '@juice/service-kit';
import type { MarginScores, MarginSet } from './margin.js';
import type { ArmKey, ArmResult } from './result.js';

/** Everything that decides a run's numbers: the plan, the model and the data (by content), the tasks. */
export type RunSettings = Record<string, unknown>;

export interface SavedArm {
  /** Training finished (ok, failed or unavailable): the job is not run again. */
  trained: ArmResult;
  /** Evaluation finished: the arm is not evaluated again. */
  evaluated?: boolean;
}

export interface RunStateFile {
  version: 1;
  settings: RunSettings;
  arms: Partial<Record<ArmKey, SavedArm>>;
  /** Job ids started but not finished (cancelled on resume so they do not compete for the cores). */
  started: Partial<Record<ArmKey, string>>;
  /** The SFT model's answers and scores the margins of the later arms are measured against. */
  margin?: { set: MarginSet; sft: MarginScores };
}

export const STATE_FILE = 'run-state.json';

/** "a.b.c" paths whose values differ between two settings objects (added and removed keys too). */
export function changedSettings(before: unknown, after: unknown, path = ''): string[] {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObj(before) && isObj(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => changedSettings(before[k], after[k], path ? `${path}.${k}` : k));
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [`${path || '(settings)'}: ${JSON.stringify(before)} → ${JSON.stringify(after)}`];
}

export class RunState {
  private constructor(
    private readonly file: string,
    readonly data: RunStateFile,
  ) {}

  /**
   * The state of `out` for these settings: new when there is none (or `fresh`), the saved one when its
   * settings are the same, refused (ConfigError naming the changes) when they differ. `resume`
   * insists that there is something to resume.
   */
  static open(out: string, settings: RunSettings, o: { resume?: boolean } = {}): { state: RunState; resumed: boolean } {
    const file = join(out, STATE_FILE);
    const normal = JSON.parse(JSON.stringify(settings)) as RunSettings;
    if (!existsSync(file)) {
      if (o.resume) throw new ConfigError(`--resume: ${out} has no ${STATE_FILE}, so there is no run to resume (run without --resume to start one)`);
      const state = new RunState(file, { version: 1, settings: normal, arms: {}, started: {} });
      state.save();
      return { state, resumed: false };
    }
    const saved = JSON.parse(readFileSync(file, 'utf8')) as RunStateFile;
    if (saved.version !== 1) throw new ConfigError(`${file}: unknown state version ${String(saved.version)}; use another --out`);
    const changed = changedSettings(saved.settings, normal);
    const nothingDone = Object.keys(saved.arms ?? {}).length === 0 && Object.keys(saved.started ?? {}).length === 0;
    if (changed.length > 0 && nothingDone && !o.resume) {
      // E.g. the last attempt stopped at the length check: there is nothing to keep, so start over.
      const state = new RunState(file, { version: 1, settings: normal, arms: {}, started: {} });
      state.save();
      return { state, resumed: false };
    }
    if (changed.length > 0) {
      throw new ConfigError(
        `${out} holds a run with other settings, so it cannot be resumed: ${changed.join('; ')}. Rerun with the same settings, use another --out, or delete ${file} to start over there`,
      );
    }
    saved.arms ??= {};
    saved.started ??= {};
    return { state: new RunState(file, saved), resumed: true };
  }

  arm(key: ArmKey): SavedArm | undefined {
    return this.data.arms[key];
  }

  /** The arm's training outcome (any status): it will not be trained again. */
  trained(arm: ArmResult): void {
    this.data.arms[arm.key] = { trained: arm };
    delete this.data.started[arm.key];
    this.save();
  }

  /** The arm with its evaluation (or its evaluation failure) recorded. */
  evaluated(arm: ArmResult): void {
    this.data.arms[arm.key] = { trained: arm, evaluated: true };
    this.save();
  }

  started(key: ArmKey, jobId: string): void {
    this.data.started[key] = jobId;
    this.save();
  }

  setMargin(set: MarginSet, sft: MarginScores): void {
    this.data.margin = { set, sft };
    this.save();
  }

  private save(): void {
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.data, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 1));
    renameSync(tmp, this.file);
  }
}
