// JobSpec settings that are valid by the proto but that this trainer does not honour yet. StartJob (and
// validate_only) refuses them with UNIMPLEMENTED naming the field, instead of accepting a job that would
// silently train without them. Each entry is one setting: implementing it means deleting its lines here.
import type { JobSpec } from '../gen/juice/v1/trainer_pb.js';
import { ReferencePolicy } from '../gen/juice/v1/trainer_pb.js';
import { Violations } from './violations.js';

export function unimplementedJobSettings(spec: JobSpec | undefined, field = 'spec'): Violations {
  const v = new Violations();
  if (!spec) return v;
  const h = spec.hyperparameters;
  if (h?.lora && h.lora.rank > 0) v.add(`${field}.hyperparameters.lora`, 'LoRA training is not implemented yet; leave it unset (rank 0) for full-parameter training');

  const c = spec.algorithmConfig;
  if (c.case === 'dpo') {
    // DPO has one stage, so STAGE_START would only be another name for INITIAL; refused rather than aliased.
    if (c.value.reference === ReferencePolicy.STAGE_START) v.add(`${field}.dpo.reference`, 'REFERENCE_POLICY_STAGE_START is not implemented for DPO; use REFERENCE_POLICY_INITIAL (the default)');
    if (c.value.referenceModel) v.add(`${field}.dpo.reference_model`, 'a reference model other than the initial model is not implemented yet; leave it unset (π_ref = spec.model)');
  }

  const ws = spec.weightSync;
  if (ws) {
    const sync = `${field}.weight_sync`;
    if (ws.everyNSteps !== 0n) v.add(`${sync}.every_n_steps`, 'is not implemented yet (pushes happen where the algorithm needs them); leave it 0');
    if (ws.delta) v.add(`${sync}.delta`, 'delta pushes are not implemented yet; leave it false');
    if (ws.chunkBytes !== 0) v.add(`${sync}.chunk_bytes`, 'is not implemented yet (chunks are 4 MiB); leave it 0');
    if (ws.twoPhase) v.add(`${sync}.two_phase`, 'two-phase pushes are not implemented yet; leave it false');
    if (ws.timeoutSeconds !== 0) v.add(`${sync}.timeout_seconds`, 'is not implemented yet (pushes use spec.endpoints.call_timeout_seconds); leave it 0');
  }

  return v;
}
