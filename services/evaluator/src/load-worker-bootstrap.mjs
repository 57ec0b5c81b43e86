// Entry of the model-loading thread: Node 20 does not carry tsx into worker threads, so register it here
// before importing the TypeScript body (as @juice/runtime's worker entries do).
const { register } = await import('tsx/esm/api');
register();
await import(new URL('./load-worker.ts', import.meta.url).href);
