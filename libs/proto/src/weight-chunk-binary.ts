// WeightChunk's protobuf binary encoding, written straight into one buffer of the exact size. Generic
// toBinary grows its buffer by doubling and copies the result out again, which for a 4 MiB chunk is
// ~20 MiB of fresh memory per chunk: the slowest step of a weight push (3 s for 455 MB, on a VM where
// every fresh page is a fault). The bytes are identical to toBinary's (same field order, proto3
// implicit presence, packed shape), a test holds them to it; messages carrying unknown fields go
// through toBinary, which writes those too.
import { toBinary } from '@bufbuild/protobuf';
import { WeightChunkSchema, WeightPushHeaderSchema, type TensorPiece, type WeightChunk } from './gen/juice/v1/common_pb.js';

const LEN = 2; // wire type: length-delimited
const VARINT = 0;

function varintSize(v: bigint | number): number {
  let n = BigInt(v);
  let size = 1;
  while (n >= 0x80n) {
    n >>= 7n;
    size++;
  }
  return size;
}

class Out {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  varint(v: bigint | number): void {
    if (typeof v === 'number' && v < 0x80000000) {
      while (v >= 0x80) {
        this.buf[this.pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      this.buf[this.pos++] = v;
      return;
    }
    let n = BigInt.asUintN(64, BigInt(v));
    while (n >= 0x80n) {
      this.buf[this.pos++] = Number(n & 0x7fn) | 0x80;
      n >>= 7n;
    }
    this.buf[this.pos++] = Number(n);
  }

  tag(field: number, wire: number): void {
    this.buf[this.pos++] = (field << 3) | wire;
  }

  bytes(b: Uint8Array): void {
    this.varint(b.byteLength);
    this.buf.set(b, this.pos);
    this.pos += b.byteLength;
  }
}

const hasUnknown = (m: { $unknown?: unknown[] }) => (m.$unknown?.length ?? 0) > 0;

interface PieceLayout {
  name: Buffer;
  shapeBytes: number;
  size: number;
}

function pieceLayout(p: TensorPiece): PieceLayout {
  const name = Buffer.from(p.name, 'utf8');
  const shapeBytes = p.shape.reduce((a, d) => a + varintSize(d), 0);
  let size = 0;
  if (name.byteLength) size += 1 + varintSize(name.byteLength) + name.byteLength;
  if (p.dtype !== 0) size += 1 + varintSize(BigInt.asUintN(64, BigInt(p.dtype)));
  if (p.shape.length) size += 1 + varintSize(shapeBytes) + shapeBytes;
  if (p.data.byteLength) size += 1 + varintSize(p.data.byteLength) + p.data.byteLength;
  if (p.offset !== 0n) size += 1 + varintSize(p.offset);
  return { name, shapeBytes, size };
}

/** The protobuf binary encoding of `chunk`, byte for byte what toBinary(WeightChunkSchema, chunk) gives. */
export function encodeWeightChunk(chunk: WeightChunk): Uint8Array {
  if (hasUnknown(chunk) || chunk.tensors.some(hasUnknown)) return toBinary(WeightChunkSchema, chunk);
  const header = chunk.header ? toBinary(WeightPushHeaderSchema, chunk.header) : undefined;
  const sha = Buffer.from(chunk.sha256, 'utf8');
  const pieces = chunk.tensors.map(pieceLayout);
  let size = 0;
  if (header) size += 1 + varintSize(header.byteLength) + header.byteLength;
  for (const p of pieces) size += 1 + varintSize(p.size) + p.size;
  if (sha.byteLength) size += 1 + varintSize(sha.byteLength) + sha.byteLength;
  if (chunk.sequence !== 0n) size += 1 + varintSize(chunk.sequence);

  const out = new Out(Buffer.allocUnsafe(size));
  if (header) {
    out.tag(1, LEN);
    out.bytes(header);
  }
  chunk.tensors.forEach((p, i) => {
    const l = pieces[i]!;
    out.tag(2, LEN);
    out.varint(l.size);
    if (l.name.byteLength) {
      out.tag(1, LEN);
      out.bytes(l.name);
    }
    if (p.dtype !== 0) {
      out.tag(2, VARINT);
      out.varint(p.dtype < 0 ? BigInt.asUintN(64, BigInt(p.dtype)) : p.dtype);
    }
    if (p.shape.length) {
      out.tag(3, LEN);
      out.varint(l.shapeBytes);
      for (const d of p.shape) out.varint(d);
    }
    if (p.data.byteLength) {
      out.tag(4, LEN);
      out.bytes(p.data);
    }
    if (p.offset !== 0n) {
      out.tag(5, VARINT);
      out.varint(p.offset);
    }
  });
  if (sha.byteLength) {
    out.tag(3, LEN);
    out.bytes(sha);
  }
  if (chunk.sequence !== 0n) {
    out.tag(4, VARINT);
    out.varint(chunk.sequence);
  }
  if (out.pos !== size) throw new Error(`encodeWeightChunk: wrote ${out.pos} bytes, sized ${size}`);
  return out.buf;
}
