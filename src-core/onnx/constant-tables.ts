// Constant tables: how srq stores a large float constant made of few distinct rows, and how it reads one back.
//
// A transformer exported from PyTorch carries, in every attention block, its relative position bias already
// gathered: a [window², window², heads] float constant built from (2·window − 1)² distinct rows. On SwinIR-lite ×2
// the two blocks' 4096 × 2 tables are 64 KB of a 298 KB file, and they stay float in every variant. Stored as the
// distinct rows plus a uint8 row index, each takes 1.8 KB + 4 KB:
//
//   name.table [U, last] ──────────────────────────────┐
//   name.index uint8 [dims without last] ─ Cast(int32) ─ Gather(axis 0) ─ name  (the tensor as it was)
//
// ONNX has no storage form for this (as it has for sparse tensors), so it is two nodes that onnxruntime folds back
// into the constant when it loads the model (constant folding, at every optimization level but 'disabled', where
// they run as two cheap ops). srq packs on encode and unpacks on decode: every step in srq sees the constant as it was.
import { attr, makeNode } from './build.ts';
import type { GraphProto, NodeProto, TensorProto } from './types.ts';
import { DataType, elementCount, makeTensor, tensorDims, tensorToArray, TensorDataError } from './tensor.ts';

/** Smaller constants stay as they are: the saving would not pay for two nodes and two tensors. */
const MIN_BYTES = 8192;
/** A uint8 index addresses this many rows. */
const MAX_ROWS = 256;
/** Rows are compared as strings of their bytes; a table's rows are a few values (a bias per attention head). */
const MAX_ROW_BYTES = 256;
const FLOAT_TYPES: ReadonlySet<number> = new Set([DataType.FLOAT, DataType.FLOAT16]);

const TABLE = '.table';
const INDEX = '.index';
const INDEX_I32 = '.index_i32';

/**
 * A copy of the graph whose large float constants with at most 256 distinct rows (along the last axis) are stored
 * as a table and an index, where that at least halves their bytes. Constants that Q/DQ nodes read (scales) and graph
 * inputs (overridable) are left alone.
 */
export function packConstantTables(graph: GraphProto): GraphProto {
  const inputs = new Set((graph.input ?? []).map((v) => v.name));
  const readByQdq = new Set((graph.node ?? []).filter((n) => n.opType === 'QuantizeLinear' || n.opType === 'DequantizeLinear').flatMap((n) => n.input ?? []));
  const kept: TensorProto[] = [];
  const added: TensorProto[] = [];
  const nodes: NodeProto[] = [];
  for (const t of graph.initializer ?? []) {
    const name = t.name ?? '';
    const packed = inputs.has(name) || readByQdq.has(name) ? undefined : tabulate(t);
    if (!packed) {
      kept.push(t);
      continue;
    }
    added.push(packed.table, packed.index);
    nodes.push(
      makeNode('Cast', [`${name}${INDEX}`], [`${name}${INDEX_I32}`], { to: attr.int(DataType.INT32) }, `${name}${INDEX_I32}`),
      makeNode('Gather', [`${name}${TABLE}`, `${name}${INDEX_I32}`], [name], {}, `${name}.gather`),
    );
  }
  if (nodes.length === 0) return graph;
  // Before every consumer: the graph stays topologically sorted.
  return { ...graph, initializer: [...kept, ...added], node: [...nodes, ...(graph.node ?? [])] };
}

function tabulate(t: TensorProto): { table: TensorProto; index: TensorProto } | undefined {
  if (!FLOAT_TYPES.has(t.dataType ?? 0) || t.dataLocation === 1) return undefined;
  const dims = tensorDims(t);
  if (dims.length === 0) return undefined;
  if (elementCount(dims) * (t.dataType === DataType.FLOAT ? 4 : 2) < MIN_BYTES) return undefined;
  const bytes = bytesOf(t);
  const last = dims.length === 1 ? 1 : dims[dims.length - 1]!;
  const rowBytes = (bytes.length / elementCount(dims)) * last;
  if (rowBytes > MAX_ROW_BYTES) return undefined;
  const rows = bytes.length / rowBytes;
  const rowOf = new Map<string, number>();
  const index = new Uint8Array(rows);
  const table: Uint8Array[] = [];
  for (let r = 0; r < rows; r++) {
    const row = bytes.subarray(r * rowBytes, (r + 1) * rowBytes);
    const key = String.fromCharCode(...row);
    let at = rowOf.get(key);
    if (at === undefined) {
      if (table.length === MAX_ROWS) return undefined;
      at = table.length;
      rowOf.set(key, at);
      table.push(row);
    }
    index[r] = at;
  }
  if (table.length * rowBytes + rows > bytes.length / 2) return undefined;
  const tableBytes = new Uint8Array(table.length * rowBytes);
  table.forEach((row, i) => tableBytes.set(row, i * rowBytes));
  const name = t.name ?? '';
  return {
    table: makeTensor(`${name}${TABLE}`, t.dataType!, dims.length === 1 ? [table.length] : [table.length, last], tableBytes),
    index: makeTensor(`${name}${INDEX}`, DataType.UINT8, dims.length === 1 ? dims : dims.slice(0, -1), index),
  };
}

/** Folds the tables that packConstantTables wrote back into their constants (in place). */
export function unpackConstantTables(graph: GraphProto): void {
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const casts = new Map((graph.node ?? []).filter((n) => n.opType === 'Cast').map((n) => [n.output?.[0] ?? '', n]));
  const drop = new Set<NodeProto>();
  const dropTensors = new Set<string>();
  const unpacked: TensorProto[] = [];
  for (const gather of graph.node ?? []) {
    const name = gather.output?.[0] ?? '';
    if (gather.opType !== 'Gather' || gather.domain || (gather.attribute ?? []).length > 0) continue;
    if (gather.input?.[0] !== `${name}${TABLE}` || gather.input?.[1] !== `${name}${INDEX_I32}`) continue;
    const cast = casts.get(`${name}${INDEX_I32}`);
    const table = initializers.get(`${name}${TABLE}`);
    const index = initializers.get(`${name}${INDEX}`);
    if (!cast || cast.input?.[0] !== `${name}${INDEX}` || !table || !index || index.dataType !== DataType.UINT8) continue;
    unpacked.push(untabulate(name, table, index));
    drop.add(gather).add(cast);
    dropTensors.add(table.name!).add(index.name!);
  }
  if (unpacked.length === 0) return;
  graph.node = (graph.node ?? []).filter((n) => !drop.has(n));
  graph.initializer = [...(graph.initializer ?? []).filter((t) => !dropTensors.has(t.name ?? '')), ...unpacked];
}

function untabulate(name: string, table: TensorProto, index: TensorProto): TensorProto {
  const tableDims = tensorDims(table);
  const tableBytes = bytesOf(table);
  const rowBytes = tableBytes.length / tableDims[0]!;
  const at = bytesOf(index);
  const out = new Uint8Array(at.length * rowBytes);
  for (let r = 0; r < at.length; r++) {
    if (at[r]! >= tableDims[0]!) throw new TensorDataError(`constant table ${name}: row ${at[r]} of ${tableDims[0]}; the file is damaged: quantize the model again`);
    out.set(tableBytes.subarray(at[r]! * rowBytes, (at[r]! + 1) * rowBytes), r * rowBytes);
  }
  const dims = tableDims.length === 1 ? tensorDims(index) : [...tensorDims(index), tableDims[1]!];
  return makeTensor(name, table.dataType!, dims, out);
}

/** The tensor's bytes, little-endian: its raw_data as it is (no copy on every encode), or the typed fields converted. */
function bytesOf(t: TensorProto): Uint8Array {
  if (t.rawData && t.rawData.length > 0) return t.rawData;
  const values = tensorToArray(t);
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}
