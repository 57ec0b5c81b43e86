// Element types juice builds graphs with, and their ONNX TensorProto.DataType codes.

export type DType = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool';

export const DTYPES: readonly DType[] = ['float32', 'float16', 'bfloat16', 'float64', 'int64', 'int32', 'int8', 'uint8', 'bool'];

const ONNX_CODE: Record<DType, number> = {
  float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float16: 10, float64: 11, bfloat16: 16,
};

const BYTES: Record<DType, number> = {
  float32: 4, float16: 2, bfloat16: 2, float64: 8, int64: 8, int32: 4, int8: 1, uint8: 1, bool: 1,
};

/** ONNX TensorProto.DataType code of a dtype. */
export function onnxDataType(dtype: DType): number {
  return ONNX_CODE[dtype];
}

/** The dtype of an ONNX TensorProto.DataType code; throws for types juice does not handle. */
export function dtypeFromOnnx(code: number): DType {
  for (const d of DTYPES) if (ONNX_CODE[d] === code) return d;
  throw new Error(`ONNX data type ${code} is not supported by juice (supported: ${DTYPES.join(', ')})`);
}

export function bytesPerElement(dtype: DType): number {
  return BYTES[dtype];
}

export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float16' || dtype === 'bfloat16' || dtype === 'float64';
}

export function isDType(s: string): s is DType {
  return (DTYPES as readonly string[]).includes(s);
}

/** Name onnxruntime-node's Tensor uses for a dtype (float16/bfloat16 carry raw uint16 bits). */
export function ortTypeName(dtype: DType): string {
  return dtype === 'float32' ? 'float32' : dtype === 'float64' ? 'float64' : dtype;
}
