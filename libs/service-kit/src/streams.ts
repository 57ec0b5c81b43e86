// Bridges between grpc-js's Node streams and the AsyncIterables handlers and callers work with.
// Written by hand (not Readable[Symbol.asyncIterator]) so that cancellation surfaces as the reason on our
// AbortSignal (DEADLINE_EXCEEDED, CANCELLED) instead of a bare "premature close", and so an early `break`
// by the consumer can cancel the underlying call.
import type { Readable, Writable } from 'node:stream';

export interface IterateOptions {
  /** Aborting rejects the pending and all later next() calls with signal.reason. */
  signal?: AbortSignal;
  /** Called once when the consumer stops early (break/return/throw). */
  onReturn?: () => void;
  /** Maps a stream 'error' event to what next() throws. */
  mapError?: (err: unknown) => unknown;
  /** Items buffered before the stream is paused (backpressure to the peer). */
  highWaterMark?: number;
}

export function iterateReadable<T>(stream: Readable, opts: IterateOptions = {}): AsyncIterable<T> {
  const high = opts.highWaterMark ?? 16;
  const queue: T[] = [];
  let ended = false;
  let failure: { err: unknown } | undefined;
  let finished = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };

  const onData = (item: T) => {
    queue.push(item);
    if (queue.length >= high) stream.pause();
    notify();
  };
  const onEnd = () => {
    ended = true;
    notify();
  };
  const onError = (err: unknown) => {
    failure ??= { err: opts.mapError ? opts.mapError(err) : err };
    notify();
  };
  const onClose = () => {
    // A destroyed stream (peer cancelled) closes without 'end'; the signal tells why.
    if (!ended && !failure) {
      if (opts.signal?.aborted) failure = { err: opts.signal.reason };
      else ended = true;
    }
    notify();
  };
  const onAbort = () => {
    failure ??= { err: opts.signal?.reason };
    notify();
  };
  stream.on('data', onData);
  stream.on('end', onEnd);
  stream.on('error', onError);
  stream.on('close', onClose);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) onAbort();

  const cleanup = () => {
    if (finished) return;
    finished = true;
    stream.off('data', onData);
    stream.off('end', onEnd);
    stream.off('close', onClose);
    // Keep an error listener so a late 'error' is not an uncaught exception.
    stream.off('error', onError);
    stream.on('error', () => {});
    opts.signal?.removeEventListener('abort', onAbort);
  };

  let iterated = false;
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      if (iterated) throw new Error('this stream can only be iterated once');
      iterated = true;
      return {
        async next(): Promise<IteratorResult<T>> {
          for (;;) {
            if (failure) {
              cleanup();
              throw failure.err;
            }
            if (queue.length > 0) {
              const value = queue.shift() as T;
              if (queue.length < high / 2 && stream.isPaused()) stream.resume();
              return { value, done: false };
            }
            if (ended || finished) {
              cleanup();
              return { value: undefined, done: true };
            }
            await new Promise<void>((resolve) => (wake = resolve));
          }
        },
        async return(): Promise<IteratorResult<T>> {
          const early = !ended && !failure && !finished;
          cleanup();
          if (early) opts.onReturn?.();
          return { value: undefined, done: true };
        },
      };
    },
  };
}

/** Writes one message, waiting for 'drain' when the peer is slow so memory stays bounded. */
export async function writeWithBackpressure(stream: Writable, message: unknown, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted();
  if (stream.write(message)) return;
  await new Promise<void>((resolve, reject) => {
    const done = (err?: unknown) => {
      stream.off('drain', onDrain);
      stream.off('close', onClose);
      signal?.removeEventListener('abort', onAbort);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onDrain = () => done();
    const onClose = () => done(signal?.reason ?? new Error('stream closed while waiting to write'));
    const onAbort = () => done(signal?.reason);
    stream.on('drain', onDrain);
    stream.on('close', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Accepts sync or async iterables of requests. */
export async function* toAsync<T>(items: AsyncIterable<T> | Iterable<T>): AsyncGenerator<T> {
  yield* items;
}
