// What the main job measured, arm by arm: the shape written to results.json and read by the table and
// the HTML report.
import type { ArmEvaluation, EvalPath } from './evaluate.js';
import type { PushRecord, StepRecord } from './jobs.js';
import type { MarginStats } from './margin.js';
import type { RunPlan } from './plan.js';

export type ArmKey = 'sft' | 'irft' | 'rft' | 'control';

export const ARM_NAMES: Record<ArmKey, string> = { sft: 'SFT', irft: 'SFT+IRFT', rft: 'SFT+RFT', control: 'SFT+control' };

export interface ArmResult {
  key: ArmKey;
  name: string;
  status: 'ok' | 'unavailable' | 'failed';
  /** Why an arm has no numbers (UNIMPLEMENTED message, job error). */
  note?: string;
  jobId?: string;
  checkpoint?: string;
  /** Optimizer steps of the arm's own job (SFT: from the base model; others: on top of SFT). */
  steps: number;
  trainSeconds: number;
  eval?: ArmEvaluation;
  /** Held-out implicit-reward margin against SFT (see margin.ts); SFT's own is 0 by definition. */
  margin?: MarginStats;
  curve: StepRecord[];
  pushes: PushRecord[];
}

export interface RunResult {
  version: 1;
  startedAt: string;
  wallSeconds: number;
  plan: RunPlan;
  data: { train: string; heldout?: string; tasks: string[]; synthetic: boolean; trainRows?: number };
  model: string;
  evalPath: EvalPath;
  evalPathNote?: string;
  margin: { beta: number; considered: number; pairs: number; identical: number; empty: number };
  /** Seconds per phase, e.g. "services", "sft", "irft", "eval". */
  phases: Record<string, number>;
  machine: { cpus: number; loadavgStart: number[]; loadavgEnd: number[] };
  arms: ArmResult[];
  /** Which data chose the plan's settings, and which data this table measured (the report says both). */
  splits?: SplitNote;
}

export interface SplitNote {
  tuning: string;
  table: string;
}
