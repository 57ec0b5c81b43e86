// Which checkpoint is the best: EvalConfig.best_metric (default "eval/loss" when the job has
// eval_datasets, else none) with its goal (explicit, or inferred from the name as the proto says:
// minimise names with loss, nll or perplexity, maximise the rest). It may name an evaluator task's
// metric, "<task>/<metric>" (pipeline/evaluator-tasks.ts). The record survives resumes in the
// trainer state, so a resumed job compares against the best of its earlier attempts.
import { MetricGoal, type JobSpec } from '@juice/proto';
import { taskNameOf } from '../pipeline/evaluator-tasks.js';
import type { BestRecord } from './trainer-state.js';

export interface BestSelection {
  metric: string;
  goal: 'minimize' | 'maximize';
}

export function bestSelectionOf(spec: JobSpec): BestSelection | undefined {
  const metric = spec.evaluation?.bestMetric || (spec.evalDatasets.length > 0 ? 'eval/loss' : '');
  if (!metric) return undefined;
  const g = spec.evaluation?.bestMetricGoal ?? MetricGoal.UNSPECIFIED;
  const goal = g === MetricGoal.MINIMIZE ? 'minimize' : g === MetricGoal.MAXIMIZE ? 'maximize' : /loss|nll|perplexity/i.test(metric) ? 'minimize' : 'maximize';
  return { metric, goal };
}

/**
 * Whether a metric comes from an evaluation (judged at evaluation points) rather than from the steps
 * (judged at every checkpoint): "eval/..." of the held-out set, or "<task>/<metric>" of an evaluator task.
 */
export function isEvaluationMetric(metric: string, spec: JobSpec): boolean {
  return metric.startsWith('eval/') || (spec.evaluation?.tasks ?? []).some((t) => metric.startsWith(`${taskNameOf(t)}/`));
}

export class BestTracker {
  constructor(
    readonly selection: BestSelection,
    public record: BestRecord | undefined,
  ) {}

  /** Whether `value` beats the best so far (NaN never does; ties keep the earlier checkpoint). */
  beats(value: number | undefined): boolean {
    if (value === undefined || !Number.isFinite(value)) return false;
    if (!this.record) return true;
    return this.selection.goal === 'minimize' ? value < this.record.value : value > this.record.value;
  }
}
