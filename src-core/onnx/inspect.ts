// What a model is: its interface, operators, size and whether (and how) it is quantized.
import type { ModelProto, ValueInfoProto } from './types.ts';
import { Graph, opHistogram } from './graph.ts';
import { valueInfoShape } from './build.ts';
import { getMetadata, opsetVersion } from './model.ts';
import { dataTypeName, DataType, elementCount, tensorDims } from './tensor.ts';

export interface TensorSummary { name: string; type: string; shape: (number | string | null)[] | null }

export type Precision = 'fp32' | 'fp16' | 'int8-static' | 'int8-dynamic' | 'mixed';

export interface ModelSummary {
  opset: number | undefined;
  irVersion: number;
  producer: string;
  inputs: TensorSummary[];
  outputs: TensorSummary[];
  ops: Record<string, number>;
  nodeCount: number;
  parameters: number;
  /** Bytes of initializer data (weights), by element type. */
  weightBytes: Record<string, number>;
  scale: number | undefined;
  precision: Precision;
  metadata: Record<string, string>;
}

function summarizeValue(v: ValueInfoProto): TensorSummary {
  const elem = v.type?.tensorType?.elemType;
  return { name: v.name ?? '', type: elem !== undefined ? (dataTypeName[elem] ?? String(elem)) : '?', shape: valueInfoShape(v) ?? null };
}

const staticInt8Ops = new Set(['QuantizeLinear', 'DequantizeLinear', 'QLinearConv', 'QLinearMatMul', 'QLinearAdd']);
const dynamicInt8Ops = new Set(['DynamicQuantizeLinear', 'ConvInteger', 'MatMulInteger', 'DynamicQuantizeMatMul']);

function precisionOf(ops: Record<string, number>, weightBytes: Record<string, number>): Precision {
  const has = (set: Set<string>) => Object.keys(ops).some((op) => set.has(op.replace(/^com\.microsoft\./, '')));
  if (has(dynamicInt8Ops)) return 'int8-dynamic';
  if (has(staticInt8Ops)) return 'int8-static';
  const fp16 = weightBytes['float16'] ?? 0;
  const fp32 = weightBytes['float'] ?? 0;
  if (fp16 > 0 && fp32 === 0) return 'fp16';
  if (fp16 > 0) return fp16 > fp32 ? 'fp16' : 'mixed';
  return 'fp32';
}

export function summarizeModel(model: ModelProto): ModelSummary {
  const graph = new Graph(model.graph!);
  const ops = opHistogram(graph.nodes);
  let parameters = 0;
  const weightBytes: Record<string, number> = {};
  for (const t of graph.proto.initializer!) {
    const n = elementCount(tensorDims(t));
    const type = dataTypeName[t.dataType ?? 0] ?? String(t.dataType);
    if (t.dataType === DataType.FLOAT || t.dataType === DataType.FLOAT16 || t.dataType === DataType.INT8 || t.dataType === DataType.UINT8) {
      // Scalars and tiny vectors are quantization parameters or shapes, not learned weights.
      if (n > 1) parameters += n;
    }
    weightBytes[type] = (weightBytes[type] ?? 0) + (t.rawData?.length ?? 0);
  }
  const scale = Number(getMetadata(model, 'srq.scale'));
  return {
    opset: opsetVersion(model),
    irVersion: Number(model.irVersion ?? 0),
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    inputs: graph.inputs.map(summarizeValue),
    outputs: graph.outputs.map(summarizeValue),
    ops,
    nodeCount: graph.nodes.length,
    parameters,
    weightBytes,
    scale: Number.isInteger(scale) && scale > 0 ? scale : undefined,
    precision: precisionOf(ops, weightBytes),
    metadata: Object.fromEntries((model.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? ''])),
  };
}
