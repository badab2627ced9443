// FP16: float16 weights and compute, float32 graph inputs and outputs (Cast at the edges). Float tensors that
// only feed shape arithmetic (sizes, scales, anything Cast to an integer) and Resize's roi/scales stay float32,
// since fp16 holds integers exactly only up to 2048. Values beyond ±65504 are clamped and counted.
import { attr, getIntAttr, makeNode, setAttr } from '../onnx/build.ts';
import { toFloat16Array } from '../onnx/float16.ts';
import { Graph } from '../onnx/graph.ts';
import { setMetadata, cloneModel } from '../onnx/model.ts';
import { DataType, makeTensor, tensorDims, tensorToFloat32 } from '../onnx/tensor.ts';
import type { ModelProto, NodeProto, TensorProto } from '../onnx/types.ts';
import { optimizeGraph } from '../optimize/index.ts';
import { SRQ_VERSION } from '../version.ts';
import { checkFloatModel } from './checks.ts';
import { floatTensors } from './float-tensors.ts';

export interface Fp16Result { model: ModelProto; clampedValues: number; keptFloat32: string[] }

/** Inputs that the ONNX spec types as float32 whatever the data type (or that we keep float32 on purpose). */
const float32Inputs: Record<string, number[]> = { Resize: [1, 2], Upsample: [1] };
const integerTypes = new Set<number>([DataType.INT64, DataType.INT32, DataType.INT16, DataType.INT8, DataType.UINT8, DataType.UINT16, DataType.UINT32, DataType.UINT64, DataType.BOOL]);

/** Float tensors that only serve shapes: walked backwards from float32-only inputs and casts to integers. */
function shapeFloatTensors(graph: Graph, floats: Set<string>): Set<string> {
  const keep = new Set<string>();
  const stack: string[] = [];
  for (const node of graph.nodes) {
    (float32Inputs[node.opType ?? ''] ?? []).forEach((i) => node.input?.[i] && stack.push(node.input[i]!));
    if (node.opType === 'Cast' && integerTypes.has(getIntAttr(node, 'to', 0))) stack.push(node.input![0]!);
  }
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (keep.has(t) || !floats.has(t)) continue;
    keep.add(t);
    const producer = graph.producer(t);
    if (producer && producer.opType !== 'Cast') producer.input?.forEach((x) => x && stack.push(x));
  }
  return keep;
}

export function convertToFp16(source: ModelProto, opts: { name?: string } = {}): Fp16Result {
  checkFloatModel(source, opts.name ?? 'the model');
  const model = cloneModel(source);
  optimizeGraph(model);
  const graph = new Graph(model.graph!);
  const floats = floatTensors(graph);
  const keep = shapeFloatTensors(graph, floats);
  let clampedValues = 0;

  // Weights.
  const convertTensor = (t: TensorProto): TensorProto => {
    const { bits, clamped } = toFloat16Array(tensorToFloat32(t));
    clampedValues += clamped;
    return makeTensor(t.name ?? '', DataType.FLOAT16, tensorDims(t), bits);
  };
  model.graph!.initializer = graph.proto.initializer!.map((t) => (t.dataType === DataType.FLOAT && !keep.has(t.name ?? '') ? convertTensor(t) : t));
  graph.invalidate();

  // Nodes that create float values from attributes.
  for (const node of graph.nodes) {
    const out = node.output?.[0] ?? '';
    if (keep.has(out)) continue;
    if (node.opType === 'Cast' && getIntAttr(node, 'to', 0) === DataType.FLOAT) setAttr(node, 'to', attr.int(DataType.FLOAT16));
    if (node.opType === 'Constant' || node.opType === 'ConstantOfShape') {
      const a = node.attribute?.find((x) => x.name === 'value');
      if (a?.t && a.t.dataType === DataType.FLOAT) a.t = convertTensor(a.t);
    }
  }

  // Float32 at the edges: Cast after each float graph input, before each float graph output.
  const castNodes: NodeProto[] = [];
  for (const input of graph.inputs) {
    const name = input.name ?? '';
    if (!floats.has(name) || keep.has(name)) continue;
    const half = graph.uniqueName(`${name}_fp16`);
    graph.replaceUses(name, half);
    castNodes.push(makeNode('Cast', [name], [half], { to: attr.int(DataType.FLOAT16) }, `${name}_to_fp16`));
  }
  for (const output of graph.outputs) {
    const name = output.name ?? '';
    if (!floats.has(name) || keep.has(name)) continue;
    const half = graph.uniqueName(`${name}_fp16`);
    const producer = graph.producer(name);
    if (!producer) continue;
    producer.output = producer.output!.map((o) => (o === name ? half : o));
    for (const n of graph.consumers(name)) n.input = n.input!.map((x) => (x === name ? half : x));
    graph.invalidate();
    castNodes.push(makeNode('Cast', [half], [name], { to: attr.int(DataType.FLOAT) }, `${name}_to_fp32`));
  }
  castNodes.forEach((n) => graph.addNode(n));

  // Intermediate type annotations would now be wrong; ORT infers them again.
  model.graph!.valueInfo = graph.proto.valueInfo!.filter((v) => v.type?.tensorType?.elemType !== DataType.FLOAT || keep.has(v.name ?? ''));
  graph.sort();
  setMetadata(model, 'srq.version', SRQ_VERSION);
  setMetadata(model, 'srq.quantization', 'fp16');
  return { model, clampedValues, keptFloat32: [...keep] };
}
