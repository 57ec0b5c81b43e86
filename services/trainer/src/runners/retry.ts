// Calls from the trainer to the generator and reward-model survive a peer that restarts: a transient
// status (UNAVAILABLE: nobody listening or connection reset; DEADLINE_EXCEEDED; ABORTED; RESOURCE_EXHAUSTED
// from a full queue) is retried with exponential back-off and jitter until the attempts run out. Anything
// else (INVALID_ARGUMENT, FAILED_PRECONDITION, ...) is the caller's bug or a real refusal and fails at once.
// The unit retried should be self-contained (e.g. push + generate), because a restarted generator has
// lost the weights the trainer pushed before.
import { ServiceError, status } from '@juice/service-kit';

const TRANSIENT = new Set<number>([status.UNAVAILABLE, status.DEADLINE_EXCEEDED, status.ABORTED, status.RESOURCE_EXHAUSTED, status.UNKNOWN]);

export interface RetryOptions {
  /** Total attempts including the first. Default 8. */
  attempts?: number;
  /** First back-off, ms. Default 250. */
  baseMs?: number;
  /** Longest back-off, ms. Default 10 000. */
  maxMs?: number;
  signal?: AbortSignal;
  /** Told before each wait (for the job's log). */
  onRetry?: (info: { what: string; attempt: number; delayMs: number; error: Error }) => void;
}

export function isTransient(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  if (e instanceof ServiceError || typeof code === 'number') return TRANSIENT.has(code as number);
  // Socket-level failures surface as plain errors from some paths (ECONNREFUSED, ECONNRESET).
  return typeof code === 'string' && /^E(CONN|PIPE|HOSTUNREACH|NETUNREACH)/.test(code);
}

export async function withRetry<T>(what: string, fn: (attempt: number) => Promise<T>, o: RetryOptions = {}): Promise<T> {
  const attempts = o.attempts ?? 8;
  const base = o.baseMs ?? 250;
  const max = o.maxMs ?? 10_000;
  for (let attempt = 1; ; attempt++) {
    o.signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (e) {
      if (attempt >= attempts || !isTransient(e) || o.signal?.aborted) {
        if (attempt > 1 && e instanceof Error) e.message = `${what}: ${e.message} (after ${attempt} attempts)`;
        throw e;
      }
      // Full jitter keeps several trainers from hammering a restarting peer in lock-step.
      const delayMs = Math.round(Math.min(max, base * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2));
      o.onRetry?.({ what, attempt, delayMs, error: e as Error });
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, delayMs);
        o.signal?.addEventListener('abort', () => (clearTimeout(t), reject(o.signal!.reason)), { once: true });
      });
    }
  }
}
