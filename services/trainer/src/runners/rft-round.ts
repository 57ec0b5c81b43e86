// What an RFT round has done so far, in the form a checkpoint inside the round holds it, so a job
// stopped mid-round continues the round instead of redoing it (no second sampling of the round):
//   samples     the round's rollouts (prompt index, response ids, the weight version that sampled each,
//               whether it ran out of room): stage_samples.json;
//   reward      the reward step's progress (updates taken, data cursor, metric sums) or its result;
//   rewards     the scored rewards, normalised (the normaliser's running moments are saved after it);
//   policy      the prepared round (π_old/π_ref log-probs, values, advantages, returns: computed from the
//               weights as they were at sampling, so never recomputed) and the updates' position within
//               policy_epochs (updates taken, the minibatch order's cursor, metric sums).
// The weights (policy with value head, reward model), both optimizers' moments, the running reward
// moments, the REINFORCE baseline and the KL controller are the runner's live state at save time, saved
// beside this (rft-runner.ts).
import type { AnalysedRollout } from '@juice/algorithms';
import type { DataCursor, TokenizedExample } from '@juice/data';
import type { StageSamples } from './trainer-state.js';
import { lostState } from './job-error.js';

/** One sampled response of the round, with its prompt (the job's tokenized demonstration). */
export interface RoundRollout {
  example: TokenizedExample;
  ids: number[];
  missingEos: boolean;
  version: bigint;
}

/** Updates taken by one of the round's step loops, and what its metrics summed to so far. */
export interface LoopProgress {
  /** Updates taken (0: not started). */
  step: number;
  /** The loop's data order after `step` updates (unset before the first). */
  cursor?: DataCursor;
  /** Per-metric sums over the updates taken (the round reports their means). */
  sums: Record<string, number>;
  /** The first update's metrics (rm/accuracy_before). */
  first?: Record<string, number>;
}

/** The round in progress at a mid-round checkpoint (stage_samples.json, beside the samples; TrainerState.extra.inRound names the round). */
export interface RoundInProgress {
  round: number;
  /** Policy updates of the job before this round's (the LR schedule's offset). */
  stepBefore: number;
  /** The round's metrics so far (gen/*, sync/*, rm/*, reward/*). */
  metrics: Record<string, number>;
  /** The reward model's update on this round's pairs (absent: frozen reward model). */
  reward?: LoopProgress;
  /** Normalised rewards, once scored (the round's rollouts in order). */
  rewards?: number[];
  /** The policy step, once prepared. */
  policy?: LoopProgress & { analysed: AnalysedRollout[]; stats: Record<string, number> };
}

/** Adds a step's metrics to running sums, in the order the step loop sums them (so means agree exactly). */
export function addMetrics(p: LoopProgress, m: Record<string, number>): void {
  if (p.first === undefined) p.first = { ...m };
  for (const [k, v] of Object.entries(m)) p.sums[k] = (p.sums[k] ?? 0) + v;
}

/** Means of the summed metrics over `steps` updates (the step loop's divisor: at least 1). */
export const meansOf = (p: LoopProgress, steps: number): Record<string, number> => Object.fromEntries(Object.entries(p.sums).map(([k, v]) => [k, v / Math.max(1, steps)]));

/**
 * The round's rollouts (prompts by index into the job's examples) and its progress as stage samples.
 * (stage_samples.json is written compact; the prepared round is the bulk of a mid-round checkpoint.)
 */
export function roundSamples(rollouts: readonly RoundRollout[], indexOf: (e: TokenizedExample) => number, weightVersion: bigint, progress: RoundInProgress): StageSamples {
  return {
    weightVersion: String(weightVersion),
    responses: rollouts.map((r) => r.ids),
    extra: {
      prompts: rollouts.map((r) => indexOf(r.example)),
      versions: rollouts.map((r) => String(r.version)),
      missingEos: rollouts.map((r) => r.missingEos),
      // Encoded when the checkpoint is written (JSON.stringify reads the getter), not at every update.
      get progress() {
        return encodeRound(progress);
      },
    },
  };
}

/** The rollouts and the round's progress back from stage samples saved by roundSamples. */
export function roundOf(samples: StageSamples | undefined, examples: readonly TokenizedExample[], where: string): { rollouts: RoundRollout[]; progress: RoundInProgress; weightVersion: bigint } {
  const x = samples?.extra as { prompts?: number[]; versions?: string[]; missingEos?: boolean[]; progress?: unknown } | undefined;
  const n = samples?.responses.length ?? 0;
  if (!samples || !x?.prompts || x.prompts.length !== n || x.versions?.length !== n || x.missingEos?.length !== n || !x.progress) throw lostState(`${where} is inside an RFT round but holds no complete round samples`);
  const rollouts = samples.responses.map((ids, i) => {
    const example = examples[x.prompts![i]!];
    if (!example) throw lostState(`${where}: round sample ${i} names prompt ${x.prompts![i]}, the job has ${examples.length}`);
    return { example, ids, missingEos: x.missingEos![i]!, version: BigInt(x.versions![i]!) };
  });
  return { rollouts, progress: decodeRound(x.progress), weightVersion: BigInt(samples.weightVersion) };
}

// JSON has no NaN/±Infinity (a log-prob may be −Infinity); they travel as strings and come back exactly.
const NONFINITE = new Map<string, number>([['NaN', NaN], ['Infinity', Infinity], ['-Infinity', -Infinity]]);

/** The round state as JSON-safe data (non-finite numbers as "NaN"/"Infinity"/"-Infinity"). */
function encodeRound(r: RoundInProgress): unknown {
  return JSON.parse(JSON.stringify(r, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)));
}

/** encodeRound's inverse. Only numeric arrays and metric values carry numbers, so only those strings are turned back. */
function decodeRound(x: unknown): RoundInProgress {
  return JSON.parse(JSON.stringify(x), (_k, v: unknown) => (typeof v === 'string' && NONFINITE.has(v) ? NONFINITE.get(v) : v)) as RoundInProgress;
}
