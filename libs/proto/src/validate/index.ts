export * from './violations.js';
export * from './common.js';
export * from './services.js';
export * from './unimplemented.js';
