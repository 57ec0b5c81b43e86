// A push stream with its first chunk read and put back: a receiver that serves both full pushes and
// adapter-only pushes looks at the header before choosing the path, without losing the chunk.
import type { WeightChunk } from '@juice/proto';

export async function peekFirstChunk(chunks: AsyncIterable<WeightChunk>): Promise<{ first: WeightChunk | undefined; all: AsyncIterable<WeightChunk> }> {
  const it = chunks[Symbol.asyncIterator]();
  const head = await it.next();
  const first = head.done ? undefined : head.value;
  return {
    first,
    all: (async function* () {
      if (first) yield first;
      for (let n = await it.next(); !n.done; n = await it.next()) yield n.value;
    })(),
  };
}
