// Which tensors hold float32 values, found by propagating element types through the graph. Declared types
// (inputs, value_info, initializers) win; otherwise ops that keep their input's type pass it on.
import { Graph } from '../onnx/graph.ts';
import { getIntAttr } from '../onnx/build.ts';
import { DataType } from '../onnx/tensor.ts';

/** Ops whose outputs have the element type of their first input. */
const typePreserving = new Set([
  'Conv', 'ConvTranspose', 'MatMul', 'Gemm', 'Add', 'Sub', 'Mul', 'Div', 'Concat', 'Resize', 'Upsample', 'DepthToSpace',
  'SpaceToDepth', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'Reshape', 'Transpose', 'Slice',
  'Pad', 'Squeeze', 'Unsqueeze', 'Flatten', 'Relu', 'Clip', 'LeakyRelu', 'PRelu', 'Sigmoid', 'Tanh', 'Softmax', 'Identity',
  'BatchNormalization', 'InstanceNormalization', 'LayerNormalization', 'Pow', 'Sqrt', 'Exp', 'Neg', 'Abs', 'Min', 'Max',
  'Split', 'Elu', 'Selu', 'HardSigmoid', 'HardSwish', 'Gelu', 'Erf', 'Tile', 'Expand', 'ReduceMean', 'ReduceSum',
  'Where', 'Dropout', 'Mish', 'Softplus',
]);

export function floatTensors(graph: Graph): Set<string> {
  const types = new Map<string, number>();
  for (const v of [...graph.proto.input!, ...graph.proto.valueInfo!, ...graph.proto.output!]) {
    const t = v.type?.tensorType?.elemType;
    if (v.name && t) types.set(v.name, t);
  }
  for (const t of graph.proto.initializer!) if (t.name) types.set(t.name, t.dataType ?? 0);
  for (const node of graph.topologicalOrder()) {
    const op = node.opType ?? '';
    let outType: number | undefined;
    if (op === 'Cast') outType = getIntAttr(node, 'to', 0);
    // Where's data inputs are 1 and 2; everything else keeps input 0's type.
    else if (typePreserving.has(op)) outType = types.get((op === 'Where' ? node.input?.[1] : node.input?.[0]) ?? '');
    node.output?.forEach((o, i) => {
      if (!o || types.has(o)) return;
      // Only the first output of MaxPool/Dropout carries values (the others are indices/masks).
      if (outType !== undefined && (i === 0 || op === 'Split')) types.set(o, outType);
    });
  }
  return new Set([...types].filter(([, t]) => t === DataType.FLOAT).map(([name]) => name));
}
