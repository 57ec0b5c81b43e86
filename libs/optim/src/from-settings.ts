// One optimizer for a training loop from a job's settings (TrainingHyperparameters: optimizer, betas,
// epsilon, RMSprop α and momentum, weight decay), with ONE weight-decay rule for every algorithm: decay
// all tensors except biases and normalisation weights, as Hugging Face's Trainer does by default
// (get_decay_parameter_names excludes LayerNorm/RMSNorm parameters and names containing "bias").
// Callers may exclude more tensors (frozen ones, which must stay exactly unchanged).
import { AdamW } from './adamw.js';
import { isNormOrBias, type FlatOptimizer, type NoDecayPredicate } from './optimizer.js';
import type { ParamSet } from './param-set.js';
import { RMSprop } from './rmsprop.js';

export type OptimizerSettings =
  | { kind: 'adamw'; beta1: number; beta2: number; eps: number; weightDecay: number }
  | { kind: 'rmsprop'; alpha: number; eps: number; momentum: number; weightDecay: number };

/** torch's AdamW betas and eps with no weight decay: what a loop uses when the caller says nothing. */
export const DEFAULT_OPTIMIZER: OptimizerSettings = Object.freeze({ kind: 'adamw', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 });

/**
 * The optimizer for `params` at base lr `lr`. `alsoNoDecay` adds tensors that get no weight decay on top
 * of the rule (biases and norms). RMSprop's weight decay is L2 (added to the gradient), as in torch.
 */
export function createOptimizer(params: ParamSet, lr: number, settings: OptimizerSettings = DEFAULT_OPTIMIZER, alsoNoDecay?: NoDecayPredicate): FlatOptimizer {
  const noDecay: NoDecayPredicate = alsoNoDecay ? (n, e) => alsoNoDecay(n, e) || isNormOrBias(n, e) : isNormOrBias;
  if (settings.kind === 'adamw') return new AdamW(params, { lr, betas: [settings.beta1, settings.beta2], eps: settings.eps, weightDecay: settings.weightDecay, noDecay });
  return new RMSprop(params, { lr, alpha: settings.alpha, eps: settings.eps, momentum: settings.momentum, weightDecay: settings.weightDecay, centered: false, noDecay });
}
