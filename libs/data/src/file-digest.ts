// Content hashes of the files a job or evaluation reads, so a run records exactly which data it saw
// (SPIN users could not reproduce results without this). Streams the file: datasets can be large,
// and may be pipes.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { requestFile } from './path-roots.js';

export interface FileDigest {
  path: string;
  sha256: string;
  sizeBytes: number;
}

export class DataFileError extends Error {
  constructor(
    readonly grpcCode: 'NOT_FOUND' | 'INVALID_ARGUMENT' | 'FAILED_PRECONDITION' | 'PERMISSION_DENIED',
    message: string,
  ) {
    super(message);
    this.name = 'DataFileError';
  }
}

/** SHA-256 and size of a regular file under the data roots (path-roots.ts); `path` in the result is as given. */
export async function fileDigest(path: string, signal?: AbortSignal): Promise<FileDigest> {
  const real = requestFile(path);
  const st = await stat(real);
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(real, { signal, end: Math.max(0, st.size - 1) })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { path, sha256: hash.digest('hex'), sizeBytes: size };
}
