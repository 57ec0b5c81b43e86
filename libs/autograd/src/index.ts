export { grad, forwardOnly, type GradOptions } from './grad.js';
export { registerGradient, gradientRule, hasGradient, registeredGradients, type GradientRule } from './registry.js';
export { GradContext, shapeTensor, filledLike } from './context.js';
export { sumToShape } from './sum-to-shape.js';
