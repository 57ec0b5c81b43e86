// JobSpec settings that are valid by the proto but that this trainer does not honour yet. StartJob (and
// validate_only) refuses them with UNIMPLEMENTED naming the field, instead of accepting a job that would
// silently train without them. Each entry is one setting: implementing it means deleting its lines here.
import type { JobSpec } from '../gen/juice/v1/trainer_pb.js';
import { Algorithm, ReferencePolicy } from '../gen/juice/v1/trainer_pb.js';
import { Violations } from './violations.js';

export function unimplementedJobSettings(spec: JobSpec | undefined, field = 'spec'): Violations {
  const v = new Violations();
  if (!spec) return v;
  const h = spec.hyperparameters;
  const c = spec.algorithmConfig;
  if (h?.lora && h.lora.rank > 0) {
    // LoRA jobs: SFT, DPO, IRFT, SPIN, REWARD_MODEL and RFT's policy train adapters (PEFT checkpoints, adapter-only pushes).
    // Under LoRA the whole base is frozen; freezing lower layers' adapters too is not a PEFT setting juice has.
    if (c.case === 'rewardModel' && c.value.frozenLayers > 0) v.add(`${field}.reward_model.frozen_layers`, 'is not implemented with LoRA (the base is frozen, adapters train in every targeted layer); leave it 0');
    // Evaluator tasks run on base + the checkpoint's adapter; the evaluator cannot load the embedded default base
    // juice builds in the job's own directory.
    const baseKind = spec.model?.kind.case;
    if (spec.evaluation?.tasks.length && baseKind !== 'hfDir' && baseKind !== 'checkpoint') v.add(`${field}.evaluation.tasks`, 'evaluator tasks on a LoRA job over the embedded default model are not implemented (the evaluator cannot load the base juice builds for the job); give spec.model as hf_dir or checkpoint, or use eval_datasets');
  }

  if (c.case === 'dpo') {
    // DPO has one stage, so STAGE_START would only be another name for INITIAL; refused rather than aliased.
    if (c.value.reference === ReferencePolicy.STAGE_START) v.add(`${field}.dpo.reference`, 'REFERENCE_POLICY_STAGE_START is not implemented for DPO; use REFERENCE_POLICY_INITIAL (the default)');
    if (c.value.referenceModel) v.add(`${field}.dpo.reference_model`, 'a reference model other than the initial model is not implemented yet; leave it unset (π_ref = spec.model)');
  }

  return v;
}
