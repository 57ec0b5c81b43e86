// PEFT adapter directories: adapter_config.json + adapter_model.safetensors, as PEFT's save_pretrained
// writes them for a LoRA adapter, so `PeftModel.from_pretrained(base, dir)` loads what juice saves and
// juice loads what PEFT saves (for the settings juice honours; the others are refused by key).
//
// Base + adapter: juice takes the base model directory and the adapter directory separately
// (loadModelWithAdapter(base, adapter)); adapter_config.json's base_model_name_or_path is recorded and
// reported but never used to find files, so an adapter cannot make a service read a path of its choosing.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { readSafetensors, writeSafetensors, sha256File } from '@juice/checkpoint';
import { ParamSet } from '@juice/optim';
import { scoreHeadName } from './architectures/registry.js';
import { rewardParameterShapes, type ModelConfig } from './config.js';
import { ModelLoadError } from './errors.js';
import { loadModel, type LoadedModel } from './load.js';
import { checkLoraSpec, loraParameterShapes, mergeLora, type LoraSpec } from './lora.js';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';

export type PeftTaskType = 'CAUSAL_LM' | 'SEQ_CLS';

export interface PeftAdapter {
  spec: LoraSpec;
  /** lora_A / lora_B tensors under PEFT names (loraParameterShapes order). */
  adapters: ParamSet;
  taskType: PeftTaskType;
  /** SEQ_CLS: the score head trained alongside the adapters (modules_to_save), [1, D]. */
  scoreHead?: Float32Array;
  baseModelNameOrPath: string;
  /** SHA-256 of adapter_model.safetensors ('' when built in memory). */
  sha256: string;
}

/** True when `dir` holds a PEFT adapter (adapter_config.json). */
export function isPeftAdapterDir(dir: string): boolean {
  return existsSync(join(dir, ADAPTER_CONFIG));
}

/** The score head's PEFT name when saved as modules_to_save (PEFT drops "modules_to_save.<adapter>" on save). */
function savedScoreName(c: ModelConfig): string {
  return `base_model.model.${scoreHeadName(c)}`;
}

/** adapter_config.json as PEFT 0.x writes it for these settings. */
export function adapterConfigJson(c: ModelConfig, spec: LoraSpec, taskType: PeftTaskType, baseModelNameOrPath: string, targetModules: readonly string[]): Record<string, unknown> {
  return {
    peft_type: 'LORA',
    task_type: taskType,
    base_model_name_or_path: baseModelNameOrPath,
    r: spec.rank,
    lora_alpha: spec.alpha,
    lora_dropout: spec.dropout ?? 0,
    target_modules: [...targetModules],
    use_rslora: spec.useRslora ?? false,
    bias: 'none',
    fan_in_fan_out: false,
    modules_to_save: taskType === 'SEQ_CLS' ? [scoreHeadName(c).replace(/\.weight$/, '')] : null,
    init_lora_weights: true,
    layers_to_transform: null,
    layers_pattern: null,
    rank_pattern: {},
    alpha_pattern: {},
    use_dora: false,
    inference_mode: true,
    revision: null,
  };
}

function writeAtomic(path: string, content: string | Uint8Array): void {
  writeFileSync(`${path}.tmp-${process.pid}`, content);
  renameSync(`${path}.tmp-${process.pid}`, path);
}

/** Writes a PEFT adapter directory; returns the files written. */
export function savePeftAdapter(dir: string, c: ModelConfig, a: Omit<PeftAdapter, 'sha256'>): string[] {
  checkLoraSpec(a.spec);
  const names = loraParameterShapes(c, a.spec);
  const targetModules = a.spec.targetModules?.length ? a.spec.targetModules : [...new Set(names.filter((n) => n.name.includes('lora_A')).map((n) => n.name.split('.').at(-4)!))];
  if (a.taskType === 'SEQ_CLS' && !a.scoreHead) throw new ModelLoadError('INVALID_ARGUMENT', `${dir}: a SEQ_CLS adapter saves the score head (modules_to_save)`);
  mkdirSync(dir, { recursive: true });
  const tensors: [string, { dtype: 'F32'; shape: readonly number[]; data: Float32Array }][] = names.map((n) => [n.name, { dtype: 'F32', shape: n.shape, data: a.adapters.view(n.name) }]);
  if (a.scoreHead) tensors.push([savedScoreName(c), { dtype: 'F32', shape: [1, c.hiddenSize], data: a.scoreHead }]);
  const weights = join(dir, ADAPTER_WEIGHTS);
  writeSafetensors(`${weights}.tmp-${process.pid}`, tensors, { format: 'pt' });
  renameSync(`${weights}.tmp-${process.pid}`, weights);
  const config = join(dir, ADAPTER_CONFIG);
  writeAtomic(config, JSON.stringify(adapterConfigJson(c, a.spec, a.taskType, a.baseModelNameOrPath, targetModules), null, 2) + '\n');
  return [config, weights];
}

/** adapter_config.json keys juice reads; any other key must hold PEFT's default (else it would be silently ignored). */
const DEFAULTS: Record<string, (v: unknown) => boolean> = {
  bias: (v) => v === 'none' || v === undefined,
  fan_in_fan_out: (v) => !v,
  use_dora: (v) => !v,
  lora_bias: (v) => !v,
  layers_to_transform: (v) => v === null || v === undefined,
  rank_pattern: (v) => v === undefined || v === null || (typeof v === 'object' && Object.keys(v).length === 0),
  alpha_pattern: (v) => v === undefined || v === null || (typeof v === 'object' && Object.keys(v).length === 0),
  megatron_config: (v) => v === null || v === undefined,
  loftq_config: (v) => v === undefined || v === null || (typeof v === 'object' && Object.keys(v).length === 0),
  layer_replication: (v) => v === null || v === undefined,
  trainable_token_indices: (v) => v === null || v === undefined,
};

/** Reads and checks a PEFT LoRA adapter directory against the base model's config. */
export function loadPeftAdapter(dir: string, c: ModelConfig): PeftAdapter {
  const bad = (msg: string) => new ModelLoadError('INVALID_ARGUMENT', `${join(dir, ADAPTER_CONFIG)}: ${msg}`);
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(readFileSync(join(dir, ADAPTER_CONFIG), 'utf8')) as Record<string, unknown>;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ModelLoadError(code === 'ENOENT' ? 'NOT_FOUND' : 'INVALID_ARGUMENT', `${dir}: no readable ${ADAPTER_CONFIG} (${code ?? 'not JSON'})`);
  }
  if (!j || typeof j !== 'object' || Array.isArray(j)) throw bad('must be a JSON object');
  if (j.peft_type !== 'LORA') throw bad(`peft_type must be "LORA", got ${JSON.stringify(j.peft_type)}`);
  for (const [k, ok] of Object.entries(DEFAULTS)) if (!ok(j[k])) throw bad(`${k} = ${JSON.stringify(j[k])} is not supported (juice honours PEFT's default only)`);
  const taskType = (j.task_type ?? 'CAUSAL_LM') as PeftTaskType;
  if (taskType !== 'CAUSAL_LM' && taskType !== 'SEQ_CLS') throw bad(`task_type must be CAUSAL_LM or SEQ_CLS, got ${JSON.stringify(j.task_type)}`);
  const tm = j.target_modules;
  let targetModules: string[];
  if (typeof tm === 'string') {
    if (tm !== 'all-linear') throw bad('target_modules as a regular expression is not supported; list module names or use "all-linear"');
    targetModules = ['all-linear'];
  } else if (Array.isArray(tm) && tm.every((t) => typeof t === 'string')) targetModules = tm as string[];
  else throw bad('target_modules must be a list of module names or "all-linear"');
  const scoreModule = scoreHeadName(c).replace(/\.weight$/, '');
  const mts = j.modules_to_save;
  if (mts !== null && mts !== undefined && !(Array.isArray(mts) && mts.every((m) => m === scoreModule || m === 'classifier'))) throw bad(`modules_to_save may name only the score head "${scoreModule}", got ${JSON.stringify(mts)}`);
  const spec: LoraSpec = { rank: Number(j.r), alpha: Number(j.lora_alpha), dropout: Number(j.lora_dropout ?? 0), targetModules, useRslora: j.use_rslora === true };
  try {
    checkLoraSpec(spec);
  } catch (e) {
    throw bad((e as Error).message);
  }
  const weightsPath = join(dir, ADAPTER_WEIGHTS);
  if (!existsSync(weightsPath)) throw new ModelLoadError('NOT_FOUND', `${dir}: no ${ADAPTER_WEIGHTS} (adapter_model.bin is not read: convert it to safetensors)`);
  const { tensors } = readSafetensors(weightsPath);
  const shapes = loraParameterShapes(c, spec);
  const adapters = new ParamSet(shapes);
  const problems: string[] = [];
  // PEFT saves without the adapter name; files saved with it (".default.weight") are read too.
  const get = (name: string) => tensors.get(name) ?? tensors.get(name.replace(/\.weight$/, '.default.weight'));
  const used = new Set<string>();
  for (const s of shapes) {
    const t = get(s.name);
    if (!t) { problems.push(`missing tensor "${s.name}"`); continue; }
    used.add(tensors.has(s.name) ? s.name : s.name.replace(/\.weight$/, '.default.weight'));
    if (t.shape.join(',') !== s.shape.join(',')) problems.push(`tensor "${s.name}" has shape [${t.shape}], expected [${s.shape}]`);
    else if (!(t.data instanceof Float32Array)) problems.push(`tensor "${s.name}" is ${t.dtype}, expected a float dtype`);
    else adapters.set(s.name, t.data);
  }
  let scoreHead: Float32Array | undefined;
  const sn = savedScoreName(c);
  if (tensors.has(sn)) {
    used.add(sn);
    const t = tensors.get(sn)!;
    if (taskType !== 'SEQ_CLS') problems.push(`"${sn}" is a score head but task_type is ${taskType}`);
    else if (t.shape.join(',') !== `1,${c.hiddenSize}` || !(t.data instanceof Float32Array)) problems.push(`"${sn}" must be float [1, ${c.hiddenSize}]`);
    else scoreHead = Float32Array.from(t.data);
  } else if (taskType === 'SEQ_CLS') problems.push(`missing "${sn}" (a SEQ_CLS adapter carries its score head)`);
  for (const n of tensors.keys()) if (!used.has(n)) problems.push(`tensor "${n}" is not read by this adapter config`);
  if (problems.length) throw new ModelLoadError('INVALID_ARGUMENT', `${weightsPath}: ${problems.slice(0, 6).join('; ')}${problems.length > 6 ? `; and ${problems.length - 6} more` : ''}`);
  return { spec, adapters, taskType, scoreHead, baseModelNameOrPath: typeof j.base_model_name_or_path === 'string' ? j.base_model_name_or_path : '', sha256: sha256File(weightsPath).sha256 };
}

/**
 * The base model with the adapter merged in (W + scaling·B·A): what the evaluator and other
 * single-model consumers compute with. `sha256` covers base and adapter; `adapter` keeps the parts.
 */
export function loadModelWithAdapter(baseDir: string, adapterDir: string, kind: 'lm' | 'reward' = 'lm'): LoadedModel & { adapter: PeftAdapter } {
  const base = loadModel(baseDir, kind === 'reward' ? 'lm' : kind);
  const adapter = loadPeftAdapter(adapterDir, base.config);
  if ((adapter.taskType === 'SEQ_CLS') !== (kind === 'reward')) throw new ModelLoadError('INVALID_ARGUMENT', `${adapterDir}: task_type ${adapter.taskType} adapter cannot be loaded as a ${kind === 'reward' ? 'reward model' : 'causal LM'}`);
  let params = mergeLora(base.config, base.params, adapter.adapters, adapter.spec);
  if (kind === 'reward') {
    const withHead = new ParamSet(rewardParameterShapes(base.config));
    for (const e of withHead.entries) withHead.set(e.name, e.name === scoreHeadName(base.config) ? adapter.scoreHead! : params.view(e.name));
    params = withHead;
  }
  return { ...base, params, adapter, name: `${base.name}+${adapterDir}`, sha256: createHash('sha256').update(base.sha256 + adapter.sha256).digest('hex') };
}
