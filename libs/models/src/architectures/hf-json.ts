// Reading config.json fields the architectures share.
import { ModelLoadError } from '../errors.js';
import { checkRopeScaling, parseRopeScaling } from '../rope.js';
import type { ModelConfig } from '../model-config.js';
import type { Json } from './types.js';

export function need(json: Json, key: string, source: string): number {
  const v = json[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ModelLoadError('INVALID_ARGUMENT', `${source}: "${key}" must be a number, got ${JSON.stringify(v)}`);
  return v;
}

/** rope_scaling, checked against the rotary dimension it scales. */
export function ropeScalingField(json: Json, rotaryDims: number, source: string): Pick<ModelConfig, 'ropeScaling'> {
  const ropeScaling = parseRopeScaling(json.rope_scaling, source);
  checkRopeScaling(ropeScaling, rotaryDims, source);
  return ropeScaling ? { ropeScaling } : {};
}
