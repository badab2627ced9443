// Tensors: typed arrays in and out of TensorProto, whichever field the data sits in.
import type { TensorProto } from './types.ts';
import { toBigInt, toNumber } from './long.ts';

/** TensorProto.DataType values. */
export const DataType = {
  UNDEFINED: 0, FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9,
  FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT64: 13, COMPLEX64: 14, COMPLEX128: 15, BFLOAT16: 16,
} as const;

export const dataTypeName: Record<number, string> = Object.fromEntries(
  Object.entries(DataType).map(([k, v]) => [v, k.toLowerCase()]),
);

export type TensorArray =
  | Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array
  | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;

/** Typed-array constructor per data type; FLOAT16/BFLOAT16 are exposed as their raw uint16 bits. */
const arrayTypes: Record<number, { new (n: number): TensorArray; BYTES_PER_ELEMENT: number }> = {
  [DataType.FLOAT]: Float32Array,
  [DataType.UINT8]: Uint8Array,
  [DataType.INT8]: Int8Array,
  [DataType.UINT16]: Uint16Array,
  [DataType.INT16]: Int16Array,
  [DataType.INT32]: Int32Array,
  [DataType.INT64]: BigInt64Array,
  [DataType.BOOL]: Uint8Array,
  [DataType.FLOAT16]: Uint16Array,
  [DataType.BFLOAT16]: Uint16Array,
  [DataType.DOUBLE]: Float64Array,
  [DataType.UINT32]: Uint32Array,
  [DataType.UINT64]: BigUint64Array,
};

export class TensorDataError extends Error {
  override name = 'TensorDataError';
}

export function tensorDims(t: TensorProto): number[] {
  return (t.dims ?? []).map(toNumber);
}

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function isLittleEndian(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}
if (!isLittleEndian()) throw new Error('srq needs a little-endian host (ONNX raw_data is little-endian)');

/**
 * A tensor with its data in raw_data (how exporters store weights). `data` must be the typed array of the
 * data type (Uint16Array of bit patterns for FLOAT16).
 */
export function makeTensor(name: string, dataType: number, dims: readonly number[], data: ArrayBufferView): TensorProto {
  const bytes = new Uint8Array(data.byteLength);
  bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  const ctor = arrayTypes[dataType];
  if (ctor && data.byteLength !== elementCount(dims) * ctor.BYTES_PER_ELEMENT) {
    throw new TensorDataError(`tensor ${name}: ${data.byteLength} bytes do not fill dims [${dims.join(', ')}]`);
  }
  return { name, dataType, dims: [...dims], rawData: bytes };
}

/** The tensor's values as a fresh typed array (a copy; editing it does not change the tensor). */
export function tensorToArray(t: TensorProto): TensorArray {
  const dataType = t.dataType ?? 0;
  const ctor = arrayTypes[dataType];
  if (!ctor) throw new TensorDataError(`tensor ${t.name}: data type ${dataTypeName[dataType] ?? dataType} has no typed-array form`);
  if (t.dataLocation === 1) throw new TensorDataError(`tensor ${t.name}: external data was not loaded; read the model with its data files`);
  const n = elementCount(tensorDims(t));
  const out = new ctor(n);
  if (t.rawData && t.rawData.length > 0) {
    if (t.rawData.length !== n * ctor.BYTES_PER_ELEMENT) {
      throw new TensorDataError(`tensor ${t.name}: raw_data has ${t.rawData.length} bytes, dims need ${n * ctor.BYTES_PER_ELEMENT}`);
    }
    new Uint8Array(out.buffer).set(t.rawData);
    return out;
  }
  const typed = typedFieldValues(t, dataType);
  if (typed.length !== n) throw new TensorDataError(`tensor ${t.name}: holds ${typed.length} values, dims need ${n}`);
  for (let i = 0; i < n; i++) (out as unknown as unknown[])[i] = typed[i];
  return out;
}

/** Values from the typed fields, converted to what the output array expects (bigint for 64-bit ints). */
function typedFieldValues(t: TensorProto, dataType: number): ArrayLike<number | bigint> {
  switch (dataType) {
    case DataType.FLOAT: return t.floatData ?? [];
    case DataType.DOUBLE: return t.doubleData ?? [];
    case DataType.INT64: return (t.int64Data ?? []).map(toBigInt);
    case DataType.UINT64: return (t.uint64Data ?? []).map((v) => BigInt.asUintN(64, toBigInt(v)));
    case DataType.UINT32: return (t.uint64Data ?? []).map(toNumber);
    // int32_data carries INT32, INT16, INT8, UINT16, UINT8, BOOL, FLOAT16 and BFLOAT16 (the last two as bits).
    default: return t.int32Data ?? [];
  }
}

/** Float values of a FLOAT/DOUBLE/FLOAT16 tensor as Float32Array (weights are read this way). */
export function tensorToFloat32(t: TensorProto): Float32Array {
  const arr = tensorToArray(t);
  if (t.dataType === DataType.FLOAT) return arr as Float32Array;
  if (t.dataType === DataType.DOUBLE) return Float32Array.from(arr as Float64Array);
  if (t.dataType === DataType.FLOAT16) return Float32Array.from(arr as Uint16Array, float16BitsToNumber);
  throw new TensorDataError(`tensor ${t.name}: expected a float tensor, found ${dataTypeName[t.dataType ?? 0]}`);
}

/** IEEE half-precision bits to a number. */
export function float16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

export function bytesPerElement(dataType: number): number {
  return arrayTypes[dataType]?.BYTES_PER_ELEMENT ?? 0;
}
