// Y = ReduceSum(A @ B) for n x n inputs. Reducing to a scalar keeps the output copy (which ORT always
// makes into a new JS buffer, ~0.4 ms/MB) out of the timing, so the probe measures the matmul kernel.
import { encodeModel } from './onnx-writer.js';

export function matmulModel(n: number): Uint8Array {
  return encodeModel({
    name: `matmul_${n}`,
    nodes: [
      { opType: 'MatMul', inputs: ['A', 'B'], outputs: ['C'] },
      { opType: 'ReduceSum', inputs: ['C'], outputs: ['Y'], attributes: { keepdims: 0 } },
    ],
    inputs: [
      { name: 'A', type: 'float32', shape: [n, n] },
      { name: 'B', type: 'float32', shape: [n, n] },
    ],
    outputs: [{ name: 'Y', type: 'float32', shape: [] }],
  });
}
