// The canonical bytes and SHA-256 of a WeightChunk, exactly as specified in
// proto/juice/v1/common.proto, so that every sender and receiver hashes the same stream.
import { createHash } from 'node:crypto';
import type { TensorPiece } from './gen/juice/v1/common_pb.js';

type PieceFields = Pick<TensorPiece, 'name' | 'dtype' | 'shape' | 'data' | 'offset'>;

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

function u64(n: bigint | number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

/** Feeds one piece's canonical bytes (name, 0x00, dtype, rank, dims, offset, length, data). */
function updateWithPiece(hash: ReturnType<typeof createHash>, p: PieceFields): void {
  hash.update(Buffer.from(p.name, 'utf8'));
  hash.update(Buffer.of(0));
  hash.update(u32(p.dtype));
  hash.update(u32(p.shape.length));
  for (const d of p.shape) hash.update(u64(d));
  hash.update(u64(p.offset));
  hash.update(u64(p.data.byteLength));
  hash.update(p.data);
}

/** Lowercase hex SHA-256 of the canonical bytes of `pieces` (the value of WeightChunk.sha256). */
export function weightChunkSha256(pieces: readonly PieceFields[]): string {
  const hash = createHash('sha256');
  for (const p of pieces) updateWithPiece(hash, p);
  return hash.digest('hex');
}
