export * from './violations.js';
export * from './common.js';
export * from './services.js';
export * from './unimplemented.js';
export * from './echo.js';
export * from './regex.js';
