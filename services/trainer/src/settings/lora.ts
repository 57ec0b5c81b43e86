// TrainingHyperparameters.lora in the terms libs/models takes (LoraSpec), checked against the job's model.
// common.proto's documented defaults live here: rank 0 = no LoRA (full-parameter training); alpha 0 = rank
// (scale 1; PEFT's own lora_alpha default is 8, but the proto says "0 = equal to rank", and a proto default
// must be the one a client reads there); empty target_modules = the architecture's attention projections
// (llama/mistral/qwen2: q_proj k_proj v_proj o_proj; gpt_neox: query_key_value dense); use_rslora = α/√r.
// target_modules are HF module names matched as PEFT matches them (the full name or a "."-suffix), or
// "all-linear"; an entry that selects no Linear of this model is INVALID_ARGUMENT naming its index.
import { loraTargets, LoraSpecError, type LoraSpec, type ModelConfig } from '@juice/models';
import type { JobSpec } from '@juice/proto';
import { badSpec } from '../runners/job-error.js';

const FIELD = 'spec.hyperparameters.lora';

/** Whether the job trains LoRA adapters (rank > 0). */
export function loraRequested(spec: JobSpec): boolean {
  return (spec.hyperparameters?.lora?.rank ?? 0) > 0;
}

/** The job's LoRA spec (undefined: full-parameter training), checked against the model's modules. */
export function resolveLora(spec: JobSpec, config: ModelConfig): LoraSpec | undefined {
  const l = spec.hyperparameters?.lora;
  if (!l || l.rank === 0) return undefined;
  const lora: LoraSpec = { rank: l.rank, alpha: l.alpha || l.rank, dropout: l.dropout, targetModules: [...l.targetModules], useRslora: l.useRslora };
  try {
    loraTargets(config, lora);
  } catch (e) {
    if (!(e instanceof LoraSpecError)) throw e;
    if (e.key !== 'target_modules') throw badSpec(`${FIELD}.${e.key}`, e.message.replace(/^lora\.\w+: /, ''));
    // Name the first entry that selects nothing (or the one that is wrong on its own), as the field path.
    const i = l.targetModules.findIndex((t) => {
      try {
        loraTargets(config, { ...lora, targetModules: [t] });
        return false;
      } catch {
        return true;
      }
    });
    throw badSpec(i >= 0 ? `${FIELD}.target_modules[${i}]` : `${FIELD}.target_modules`, e.message.replace(/^lora\.\w+: /, ''));
  }
  return lora;
}
