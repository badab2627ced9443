// Sparse initializers (GraphProto.sparse_initializer): how srq stores int8 weights that are mostly zero,
// and how it reads any model's sparse initializers back as ordinary dense ones.
//
// The weights of a PReLU's pair conv (prelu.ts) are a 2C×C matrix with two non-zeros per row; stored dense they
// made x4fast's INT8 file 33% of FP32 instead of 26%. ORT (node and web) densifies sparse initializers when it
// loads a model, so the stored form changes the file's size and nothing else.
import type { GraphProto, SparseTensorProto, TensorProto } from './types.ts';
import { DataType, elementCount, makeTensor, tensorDims, tensorToArray, TensorDataError } from './tensor.ts';
import { toNumber } from './long.ts';

/**
 * An int8 weight is stored sparse when at most this share of it is non-zero: each non-zero costs its byte and an
 * int64 index (9 bytes against 1 a weight dense), so sparse is at least twice smaller below 1/18. A pair conv's
 * share is 1/C (C channels: 1.6% on x4fast).
 */
const MAX_NONZERO_SHARE = 1 / 18;
/** Small tensors stay dense: the saving would not pay for a second storage form to read. */
const MIN_ELEMENTS = 1024;

/** A copy of the graph whose mostly-zero int8 initializers are sparse (the graph itself is not changed). */
export function packSparseInitializers(graph: GraphProto): GraphProto {
  const dense: TensorProto[] = [];
  const sparse: SparseTensorProto[] = [];
  for (const t of graph.initializer ?? []) {
    const packed = t.dataType === DataType.INT8 ? packInt8(t) : undefined;
    if (packed) sparse.push(packed);
    else dense.push(t);
  }
  if (sparse.length === 0) return graph;
  return { ...graph, initializer: dense, sparseInitializer: [...(graph.sparseInitializer ?? []), ...sparse] };
}

function packInt8(t: TensorProto): SparseTensorProto | undefined {
  const dims = tensorDims(t);
  const n = elementCount(dims);
  if (n < MIN_ELEMENTS || t.dataLocation === 1) return undefined;
  // Counted on the stored bytes (an int8 zero is a zero byte): no copy of every weight on each encode.
  const values = t.rawData?.length === n ? new Int8Array(t.rawData.buffer, t.rawData.byteOffset, n) : (tensorToArray(t) as Int8Array);
  let nonZero = 0;
  for (let i = 0; i < n && nonZero <= n * MAX_NONZERO_SHARE; i++) if (values[i] !== 0) nonZero++;
  if (nonZero > n * MAX_NONZERO_SHARE) return undefined;
  const at = new BigInt64Array(nonZero);
  const kept = new Int8Array(nonZero);
  for (let i = 0, k = 0; i < n; i++) if (values[i] !== 0) { at[k] = BigInt(i); kept[k++] = values[i]!; }
  return {
    values: makeTensor(t.name ?? '', DataType.INT8, [nonZero], kept),
    indices: makeTensor('', DataType.INT64, [nonZero], at),
    dims,
  };
}

/** Moves the graph's sparse initializers into its dense initializers (in place), so every step reads one form. */
export function unpackSparseInitializers(graph: GraphProto): void {
  const sparse = graph.sparseInitializer ?? [];
  if (sparse.length === 0) return;
  graph.initializer = [...(graph.initializer ?? []), ...sparse.map(densify)];
  graph.sparseInitializer = [];
}

function densify(s: SparseTensorProto): TensorProto {
  const name = s.values?.name ?? '';
  if (!s.values || !s.indices) throw new TensorDataError(`sparse initializer ${name}: values or indices missing`);
  const dims = (s.dims ?? []).map(toNumber);
  const values = tensorToArray(s.values);
  const indices = tensorToArray(s.indices);
  const nonZero = values.length;
  const rank = dims.length;
  // ONNX allows indices as [NNZ] (linear) or [NNZ, rank] (coordinates).
  const coordinates = tensorDims(s.indices).length === 2;
  const strides = dims.map((_, i) => elementCount(dims.slice(i + 1)));
  const out = new (values.constructor as new (n: number) => typeof values)(elementCount(dims));
  for (let k = 0; k < nonZero; k++) {
    let at = 0;
    if (coordinates) for (let d = 0; d < rank; d++) at += Number(indices[k * rank + d]) * strides[d]!;
    else at = Number(indices[k]);
    if (at < 0 || at >= out.length) throw new TensorDataError(`sparse initializer ${name}: index ${at} outside dims [${dims.join(', ')}]; the file is damaged: export or quantize the model again`);
    (out as unknown as (number | bigint)[])[at] = values[k]!;
  }
  return makeTensor(name, s.values.dataType ?? 0, dims, out);
}
