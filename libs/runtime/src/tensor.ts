// Feeds accept ort.Tensor, {data, dims[, type]} or a bare typed array (dims taken from the model). ORT
// wraps the typed array's memory, so a `subarray` of a flat parameter buffer is fed without a copy.
import ort from 'onnxruntime-node';

export type TensorType = ort.Tensor.Type;
export type TypedArrayData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

export interface TensorLike {
  data: TypedArrayData;
  dims: readonly number[];
  /** Needed only where the array type is ambiguous (Uint8Array: uint8|bool; Uint16Array: uint16|float16). */
  type?: TensorType;
}

export type FeedValue = ort.Tensor | TensorLike | TypedArrayData;
export type Feeds = Record<string, FeedValue>;

const ARRAY_TYPES: [new (n: number) => TypedArrayData, TensorType[]][] = [
  [Float32Array, ['float32']],
  [Float64Array, ['float64']],
  [Int32Array, ['int32']],
  [BigInt64Array, ['int64']],
  [Uint8Array, ['uint8', 'bool']],
  [Int8Array, ['int8']],
  [Uint16Array, ['uint16', 'float16']],
  [Int16Array, ['int16']],
  [Uint32Array, ['uint32']],
  [BigUint64Array, ['uint64']],
];

/** The tensor types a typed array can carry; the first is the default. */
export function tensorTypesOf(data: TypedArrayData): TensorType[] {
  for (const [ctor, types] of ARRAY_TYPES) if (data instanceof ctor) return types;
  throw new Error(`unsupported tensor data ${Object.prototype.toString.call(data)}`);
}

function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

type ArrayFor<T extends TensorType> = ort.Tensor.DataTypeMap[T];

/** Builds an ort.Tensor. Typed arrays are wrapped (zero-copy); number arrays are converted. */
export function tensor<T extends 'float32' | 'float64' | 'int32' | 'int64' | 'uint8' | 'int8' | 'bool' | 'float16' | 'uint16' | 'int16' | 'uint32' | 'uint64'>(
  type: T,
  data: ArrayFor<T> | readonly number[] | readonly bigint[],
  dims: readonly number[],
): ort.TypedTensor<T> {
  if (elementCount(dims) !== data.length) {
    throw new Error(`tensor(${type}) with dims [${dims.join(', ')}] needs ${elementCount(dims)} elements, got ${data.length}`);
  }
  let arr: unknown = data;
  if (Array.isArray(data)) {
    if (type === 'int64') arr = BigInt64Array.from(data as (number | bigint)[], (x) => BigInt(x));
    else if (type === 'uint64') arr = BigUint64Array.from(data as (number | bigint)[], (x) => BigInt(x));
    else {
      const entry = ARRAY_TYPES.find(([, types]) => types.includes(type));
      if (!entry) throw new Error(`tensor: unsupported type "${type}"`);
      arr = (entry[0] as unknown as { from(x: ArrayLike<number>): TypedArrayData }).from(data as number[]);
    }
  }
  return new ort.Tensor(type, arr as ArrayFor<T>, dims) as ort.TypedTensor<T>;
}

/** What the model declares for an input: used to fill in dims and type of bare typed arrays. */
export interface InputSpec {
  type?: TensorType;
  shape?: readonly (number | string)[];
}

function inferDims(name: string, length: number, spec: InputSpec | undefined): number[] {
  const shape = spec?.shape;
  if (!shape) throw new Error(`input "${name}": pass { data, dims } (the model declares no shape to infer it from)`);
  const symbolic = shape.map((d, i) => (typeof d === 'number' && d >= 0 ? -1 : i)).filter((i) => i >= 0);
  const known = shape.reduce<number>((acc, d) => (typeof d === 'number' && d >= 0 ? acc * d : acc), 1);
  if (symbolic.length === 0) {
    if (known !== length) throw new Error(`input "${name}" has shape [${shape.join(', ')}] (${known} elements), got ${length}`);
    return shape as number[];
  }
  if (symbolic.length === 1 && known > 0 && length % known === 0) {
    return shape.map((d, i) => (i === symbolic[0] ? length / known : (d as number)));
  }
  throw new Error(`input "${name}" has shape [${shape.join(', ')}]: pass { data, dims } to say which sizes the ${symbolic.length} symbolic dims take`);
}

/** Turns any FeedValue into an ort.Tensor without copying its data. */
export function toOrtTensor(name: string, value: FeedValue, spec?: InputSpec): ort.Tensor {
  if (value instanceof ort.Tensor) return value;
  const isTyped = ArrayBuffer.isView(value);
  const data = (isTyped ? value : (value as TensorLike).data) as TypedArrayData;
  const allowed = tensorTypesOf(data);
  const wanted = (!isTyped && (value as TensorLike).type) || spec?.type;
  let type: TensorType = allowed[0];
  if (wanted) {
    if (!allowed.includes(wanted)) {
      throw new Error(`input "${name}" expects ${wanted}, got a ${data.constructor.name} (carries ${allowed.join(' or ')})`);
    }
    type = wanted;
  }
  const dims = isTyped ? inferDims(name, data.length, spec) : [...(value as TensorLike).dims];
  if (elementCount(dims) !== data.length) {
    throw new Error(`input "${name}" with dims [${dims.join(', ')}] needs ${elementCount(dims)} elements, got ${data.length}`);
  }
  return new ort.Tensor(type, data as ArrayFor<'float32'>, dims);
}
