// Request batching shared by the gRPC adapters and the task runners.

/** Splits `items` into consecutive chunks of at most `size` (size < 1 is treated as 1). */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const n = Math.max(1, Math.floor(size));
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += n) out.push(items.slice(i, i + n));
  return out;
}

/**
 * Runs `fn` over consecutive chunks of `items` sequentially (one request in flight keeps the
 * server's batch token budget predictable) and concatenates the results, checking the count.
 */
export async function mapBatched<T, R>(
  items: readonly T[],
  size: number,
  fn: (batch: T[]) => Promise<R[]>,
  what: string,
  signal?: AbortSignal,
): Promise<R[]> {
  const out: R[] = [];
  for (const batch of chunks(items, size)) {
    signal?.throwIfAborted();
    const res = await fn(batch);
    if (res.length !== batch.length) throw new Error(`${what}: sent ${batch.length} items, got ${res.length} results`);
    out.push(...res);
  }
  return out;
}

/** Cuts `text` before the earliest occurrence of any non-empty stop string (lm-eval `until`). */
export function cutAtStop(text: string, until: readonly string[]): string {
  let end = text.length;
  for (const s of until) {
    if (!s) continue;
    const i = text.indexOf(s);
    if (i >= 0 && i < end) end = i;
  }
  return text.slice(0, end);
}
