// The weights of a model graph as inputs named by their HF tensor names (so one flat parameter buffer
// feeds them zero-copy and checkpoints map 1:1), or baked in as initializers when frozen.
import type { GraphBuilder } from '@juice/onnx';
import type { ParamSet } from '@juice/optim';
import { embeddingNames, parameterShapes, rewardParameterShapes } from '../config.js';
import { scoreHeadName } from '../architectures/registry.js';
import type { ModelConfig } from '../model-config.js';
import type { FloatType } from './types.js';

/** Weight inputs of a model graph by HF name, and the output head (LM head, or a reward model's score). */
export function weightInputs(g: GraphBuilder, c: ModelConfig, dtype: FloatType, kind: 'lm' | 'reward' = 'lm', frozen?: ParamSet, keepInputs: readonly string[] = []) {
  const shapes = kind === 'lm' ? parameterShapes(c) : rewardParameterShapes(c);
  // Frozen weights (the base model under LoRA) are baked in as initializers; the rest (and keepInputs,
  // e.g. a reward model's score head that trains alongside the adapters) are inputs.
  const isInput = (name: string) => !frozen || keepInputs.includes(name);
  const weights = new Map(
    shapes.map((p) => {
      if (isInput(p.name)) return [p.name, g.input(p.name, dtype, p.shape)];
      const v = frozen!.view(p.name);
      const data = dtype === 'float32' ? new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength)) : new Uint8Array(Float64Array.from(v).buffer);
      return [p.name, g.initializer(p.name, { dtype, dims: [...p.shape], data })];
    }),
  );
  const w = (name: string) => {
    const v = weights.get(name);
    if (!v) throw new Error(`${c.architecture} graph: no weight input ${name}`);
    return v;
  };
  return { names: shapes.filter((p) => isInput(p.name)).map((p) => p.name), w, head: w(kind === 'lm' ? embeddingNames(c).head : scoreHeadName(c)) };
}
