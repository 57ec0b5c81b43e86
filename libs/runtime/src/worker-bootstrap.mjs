// Entry point of WorkerSession's thread. Node 20 does not apply the parent's tsx loader hooks to worker
// threads (not even with `--import tsx` in execArgv: the entry .ts fails with "Unknown file extension"),
// so register tsx in this thread before importing the TypeScript worker.
const { register } = await import('tsx/esm/api');
register();
await import(new URL('./worker.ts', import.meta.url).href);
