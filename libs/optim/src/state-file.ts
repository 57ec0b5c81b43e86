// Binary optimiser-state format, so a resumed run continues bit-identically:
//   "JUICEOPT" | u32 LE version | u32 LE header bytes | header JSON (space-padded to 4 bytes)
//   | each buffer named in header.buffers: `length` float32 little-endian
// Raw floats (not JSON numbers) keep m and v exact and the file ~8 bytes/param for AdamW.
import type { OptimizerState, StateBufferName } from './optimizer.js';

const MAGIC = 'JUICEOPT';
const VERSION = 1;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const BUFFER_NAMES: readonly StateBufferName[] = ['m', 'v', 'gAvg'];

interface Header {
  kind: OptimizerState['kind'];
  step: number;
  hyperparams: OptimizerState['hyperparams'];
  noDecay: string[];
  length: number;
  buffers: StateBufferName[];
}

export function serializeOptimizerState(state: OptimizerState): Uint8Array {
  const buffers = BUFFER_NAMES.filter((n) => state[n] !== undefined);
  for (const n of buffers) {
    if (state[n]!.length !== state.length) throw new Error(`optimizer state buffer "${n}" has ${state[n]!.length} elements, state.length is ${state.length}`);
  }
  const header: Header = { kind: state.kind, step: state.step, hyperparams: state.hyperparams, noDecay: state.noDecay, length: state.length, buffers };
  let json = JSON.stringify(header);
  json += ' '.repeat((4 - (Buffer.byteLength(json) % 4)) % 4);
  const headerBytes = new TextEncoder().encode(json);
  const dataOffset = 16 + headerBytes.length;
  const out = new Uint8Array(dataOffset + buffers.length * state.length * 4);
  out.set(new TextEncoder().encode(MAGIC), 0);
  const dv = new DataView(out.buffer);
  dv.setUint32(8, VERSION, true);
  dv.setUint32(12, headerBytes.length, true);
  out.set(headerBytes, 16);
  let offset = dataOffset;
  for (const n of buffers) {
    const buf = state[n]!;
    if (LITTLE_ENDIAN) out.set(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), offset);
    else for (let i = 0; i < buf.length; i++) dv.setFloat32(offset + 4 * i, buf[i], true);
    offset += buf.byteLength;
  }
  return out;
}

export function deserializeOptimizerState(bytes: Uint8Array): OptimizerState {
  if (bytes.length < 16 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) {
    throw new Error('not a juice optimizer state file (missing "JUICEOPT" magic)');
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(8, true);
  if (version !== VERSION) throw new Error(`optimizer state file version ${version} is not supported (this build reads version ${VERSION})`);
  const headerLen = dv.getUint32(12, true);
  if (16 + headerLen > bytes.length) throw new Error('optimizer state file is truncated inside its header');
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + headerLen))) as Header;
  const expected = 16 + headerLen + header.buffers.length * header.length * 4;
  if (bytes.length !== expected) throw new Error(`optimizer state file has ${bytes.length} bytes, its header implies ${expected}`);
  const state: OptimizerState = { kind: header.kind, step: header.step, hyperparams: header.hyperparams, noDecay: header.noDecay, length: header.length };
  let offset = 16 + headerLen;
  for (const n of header.buffers) {
    if (!BUFFER_NAMES.includes(n)) throw new Error(`optimizer state file has unknown buffer "${n}" (valid: ${BUFFER_NAMES.join(', ')})`);
    const buf = new Float32Array(header.length);
    if (LITTLE_ENDIAN) new Uint8Array(buf.buffer).set(bytes.subarray(offset, offset + buf.byteLength));
    else for (let i = 0; i < buf.length; i++) buf[i] = dv.getFloat32(offset + 4 * i, true);
    state[n] = buf;
    offset += buf.byteLength;
  }
  return state;
}
