// WeightSyncConfig (trainer.proto) in the terms PoolWeights takes, with the proto's defaults: chunk_bytes
// 0 = 4 MiB, timeout_seconds 0 = 300 s, two_phase false = each replica activates the push on arrival,
// delta false = full pushes, every_n_steps 0 = pushes only where the algorithm needs them. Checked at
// StartJob (validate_only too), so a job is refused before it trains rather than at its first push.
import { Algorithm, type JobSpec } from '@juice/proto';
import { badField, preconditionFailed } from '@juice/proto/status-error';
import { chunkBytesProblem, DEFAULT_PUSH_TIMEOUT_MS, type PoolWeightsOptions } from '@juice/weight-sync';

const FIELD = 'spec.weight_sync';

export interface WeightSyncSettings {
  /** How every push of the job travels (PoolWeights options). */
  push: PoolWeightsOptions;
  /** Push the policy to the generator after every N optimizer steps (0 = never beyond the algorithm's own pushes). */
  everyNSteps: number;
}

/** The job's weight-sync settings; throws INVALID_ARGUMENT / FAILED_PRECONDITION naming the field. */
export function resolveWeightSync(spec: JobSpec): WeightSyncSettings {
  checkWeightSync(spec);
  const ws = spec.weightSync;
  return {
    push: {
      chunk: ws?.chunkBytes ? { chunkBytes: ws.chunkBytes } : {},
      twoPhase: ws?.twoPhase ?? false,
      delta: ws?.delta ?? false,
      timeoutMs: ws?.timeoutSeconds ? ws.timeoutSeconds * 1000 : DEFAULT_PUSH_TIMEOUT_MS,
    },
    everyNSteps: Number(ws?.everyNSteps ?? 0n),
  };
}

/**
 * StartJob's check: chunk_bytes in range; every_n_steps only for jobs with a policy and a generator to keep
 * in sync (SFT and DPO have no default generator: they need spec.endpoints.generator; IRFT/SPIN/RFT may use
 * the trainer's --generator, which their runners check).
 */
export function checkWeightSync(spec: JobSpec | undefined): void {
  const ws = spec?.weightSync;
  if (!spec || !ws) return;
  if (ws.chunkBytes !== 0) {
    const problem = chunkBytesProblem(ws.chunkBytes);
    if (problem) throw badField(`${FIELD}.chunk_bytes`, problem);
  }
  if (ws.everyNSteps === 0n) return;
  const field = `${FIELD}.every_n_steps`;
  if (spec.algorithm === Algorithm.REWARD_MODEL) throw badField(field, 'pushes the policy to a generator; a REWARD_MODEL job trains no policy (leave it 0)');
  // LoRA + every_n_steps is refused as not implemented yet (libs/proto/src/validate/unimplemented.ts).
  if ((spec.algorithm === Algorithm.SFT || spec.algorithm === Algorithm.DPO || spec.algorithm === Algorithm.PRETRAIN) && (spec.endpoints?.generator ?? []).length === 0) {
    throw preconditionFailed(`${field}: keeps a generator serving the policy as it trains; set spec.endpoints.generator (an SFT/DPO/PRETRAIN job has no default generator)`, false);
  }
}
