export * from './dtype.js';
export * from './shape.js';
export * from './tensor.js';
export * from './attributes.js';
export * from './graph.js';
export * from './builder.js';
export * from './serialize.js';
export * from './dump.js';
export { registerInference, registerShapeValue, hasInference, type InferContext, type InferFn, type ShapeValueFn } from './infer/index.js';
