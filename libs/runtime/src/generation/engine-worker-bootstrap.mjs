// Entry of the generation worker thread: Node 20 does not carry tsx into worker threads, so register it
// here before importing the TypeScript worker (see ../worker-bootstrap.mjs).
const { register } = await import('tsx/esm/api');
register();
await import(new URL('./engine-worker.ts', import.meta.url).href);
