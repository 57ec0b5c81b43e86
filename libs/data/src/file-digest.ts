// Content hashes of the files a job or evaluation reads, so a run records exactly which data it saw
// (SPIN users could not reproduce results without this). Streams the file: datasets can be large,
// and may be pipes.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';

export interface FileDigest {
  path: string;
  sha256: string;
  sizeBytes: number;
}

export class DataFileError extends Error {
  constructor(
    readonly grpcCode: 'NOT_FOUND' | 'INVALID_ARGUMENT' | 'FAILED_PRECONDITION',
    message: string,
  ) {
    super(message);
    this.name = 'DataFileError';
  }
}

export async function fileDigest(path: string, signal?: AbortSignal): Promise<FileDigest> {
  const st = await stat(path).catch(() => undefined);
  if (!st) throw new DataFileError('NOT_FOUND', `${path} does not exist`);
  if (st.isDirectory()) throw new DataFileError('INVALID_ARGUMENT', `${path} is a directory; name a file`);
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path, { signal })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { path, sha256: hash.digest('hex'), sizeBytes: size };
}
