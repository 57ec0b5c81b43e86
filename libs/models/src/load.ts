// Loading a model directory into what the roles compute with: its config, one flat parameter buffer
// (HF tensor names), and its tokenizer. Missing, misshaped and unused tensors are reported by name.
import { loadHfDir, Tokenizer, type HfModelFiles } from '@juice/checkpoint';
import { ParamSet } from '@juice/optim';
import { scoreHeadName } from './architectures/registry.js';
import { configFromHf, embeddingNames, parameterShapes, rewardParameterShapes, type ModelConfig } from './config.js';
import { ModelLoadError } from './errors.js';
import { gaussian } from './init.js';
import { unusedTensorProblems } from './unused-tensors.js';
import { join } from 'node:path';
import { createHash } from 'node:crypto';

export interface LoadedModel {
  dir: string;
  /** config.json's _name_or_path, else the directory. */
  name: string;
  config: ModelConfig;
  params: ParamSet;
  tokenizer: Tokenizer;
  files: HfModelFiles['files'];
  /** SHA-256 over the weight files' hashes (sorted by name): one id for the exact weights. */
  sha256: string;
}

export function loadModel(dir: string, kind: 'lm' | 'reward' = 'lm'): LoadedModel {
  const files = loadHfDir(dir);
  const config = configFromHf(files.config, join(dir, 'config.json'));
  const shapes = kind === 'lm' ? parameterShapes(config) : rewardParameterShapes(config);
  const params = new ParamSet(shapes);
  const problems: string[] = [];
  for (const s of shapes) {
    const t = files.tensors.get(s.name);
    if (!t) problems.push(`missing tensor "${s.name}"`);
    else if (t.shape.join(',') !== s.shape.join(',')) problems.push(`tensor "${s.name}" has shape [${t.shape}], expected [${s.shape}]`);
    else if (!(t.data instanceof Float32Array)) problems.push(`tensor "${s.name}" is ${t.dtype}, expected a float dtype`);
    else params.set(s.name, t.data);
  }
  // Nothing is dropped silently: a tensor the model does not read is refused (see unused-tensors.ts).
  problems.push(...unusedTensorProblems(files.tensors, new Set(shapes.map((s) => s.name)), config));
  if (problems.length) {
    throw Object.assign(new Error(`${dir}: ${problems.slice(0, 8).join('; ')}${problems.length > 8 ? `; and ${problems.length - 8} more` : ''}`), { grpcCode: 'INVALID_ARGUMENT' });
  }
  const weightFiles = files.files.filter((f) => f.path.endsWith('.safetensors')).sort((a, b) => a.path.localeCompare(b.path));
  const sha256 = createHash('sha256').update(weightFiles.map((f) => f.sha256).join('')).digest('hex');
  return { dir, name: typeof files.config._name_or_path === 'string' && files.config._name_or_path ? files.config._name_or_path : dir, config, params, tokenizer: Tokenizer.fromDir(dir), files: files.files, sha256 };
}

/**
 * A reward model started from a causal LM (what REWARD_MODEL and RFT do with a *ForCausalLM directory): its
 * backbone as loaded plus a fresh score head (std 0.02 normal from `seed`). The LM head is the one tensor
 * this conversion drops, on purpose; a model that would lose anything else is refused.
 */
export function rewardParamsFromCausalLm(model: LoadedModel, seed: number): ParamSet {
  const params = new ParamSet(rewardParameterShapes(model.config));
  const { head, embed } = embeddingNames(model.config);
  const scoreHead = scoreHeadName(model.config);
  const dropped = model.params.names.filter((n) => !params.has(n));
  if (model.params.has(scoreHead)) throw new ModelLoadError('INVALID_ARGUMENT', `${model.dir}: is already a reward model (it has ${scoreHead}); load it with kind 'reward'`);
  if (dropped.some((n) => n !== head || head === embed)) throw new ModelLoadError('INVALID_ARGUMENT', `${model.dir}: a reward model starts from a causal LM by dropping only its LM head, but would drop ${dropped.map((n) => `"${n}"`).join(', ')}`);
  for (const e of params.entries) if (model.params.has(e.name)) params.set(e.name, model.params.view(e.name));
  const rand = gaussian(seed);
  const score = params.view(scoreHead);
  for (let i = 0; i < score.length; i++) score[i] = 0.02 * rand();
  return params;
}
