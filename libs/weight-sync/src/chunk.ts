// The sending side of PushWeights: many tensors per chunk (one tensor per message was the slow path
// in peer systems), large tensors split into pieces, every chunk checksummed.
import { create } from '@bufbuild/protobuf';
import { Dtype, WeightChunkSchema, WeightDeltaMode, weightChunkSha256, type TensorPiece, type WeightChunk, type WeightPushHeader } from '@juice/proto';
import { bytesPerElement, encodeFloats, type FloatWireDtype } from './dtype-bytes.js';

export interface PushTensor {
  shape: readonly number[];
  data: Float32Array;
}

export interface ChunkOptions {
  version: bigint;
  label?: string;
  /** Wire dtype. Default FLOAT32 (exact). */
  dtype?: FloatWireDtype;
  /** Largest data bytes per chunk. Default 4 MiB. */
  chunkBytes?: number;
  deltaMode?: WeightDeltaMode;
  baseVersion?: bigint;
  stageOnly?: boolean;
  /** The tensors do not change until the push is done (e.g. a snapshot): FLOAT32 data is sent without a copy. */
  stable?: boolean;
  /** A LoRA adapter push's header fields (lora_adapter_only, adapter_name, lora). */
  adapter?: Partial<Pick<WeightPushHeader, 'loraAdapterOnly' | 'adapterName' | 'lora'>>;
}

/** Yields the chunks of one push, in order; encode lazily so memory stays at about one chunk. */
export function* weightChunks(tensors: ReadonlyMap<string, PushTensor>, o: ChunkOptions): Generator<WeightChunk> {
  const dtype = o.dtype ?? Dtype.FLOAT32;
  const limit = Math.max(1024, o.chunkBytes ?? 4 << 20);
  const esize = bytesPerElement(dtype);
  let totalBytes = 0n;
  for (const t of tensors.values()) totalBytes += BigInt(t.data.length * esize);

  let sequence = 0n;
  let pieces: Omit<TensorPiece, '$typeName' | '$unknown'>[] = [];
  let bytes = 0;
  const flush = (): WeightChunk => {
    const chunk = create(WeightChunkSchema, {
      sequence,
      tensors: pieces,
      sha256: weightChunkSha256(pieces),
      header:
        sequence === 0n
          ? {
              version: { number: o.version, label: o.label ?? '' },
              totalTensors: tensors.size,
              totalBytes,
              deltaMode: o.deltaMode ?? WeightDeltaMode.FULL,
              baseVersion: o.baseVersion ?? 0n,
              stageOnly: o.stageOnly ?? false,
              ...o.adapter,
            }
          : undefined,
    });
    sequence++;
    pieces = [];
    bytes = 0;
    return chunk;
  };

  for (const [name, t] of tensors) {
    const data = o.stable && dtype === Dtype.FLOAT32 ? new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) : encodeFloats(t.data, dtype);
    const shape = t.shape.map((d) => BigInt(d));
    let offset = 0;
    while (offset < data.byteLength || (offset === 0 && data.byteLength === 0)) {
      if (bytes >= limit) yield flush();
      // Pieces end on element boundaries so a receiver can decode each as it arrives.
      const room = Math.max(esize, Math.floor((limit - bytes) / esize) * esize);
      const piece = data.subarray(offset, Math.min(data.byteLength, offset + room));
      pieces.push({ name, dtype, shape, data: piece, offset: BigInt(offset) });
      bytes += piece.byteLength;
      offset += piece.byteLength;
      if (data.byteLength === 0) break;
    }
  }
  yield flush();
}
