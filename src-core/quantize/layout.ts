// Which tensors are known to be NCHW feature maps (channels on axis 1, width last). Calibration samples those on a
// pixel grid (every channel at the same pixels); any other tensor (tokens, NHWC maps, a Transpose's output that no
// conv reads) is sampled flat, whatever its layout, so a stride never lands on a subset of its channels.
import { Graph } from '../onnx/graph.ts';
import type { ModelProto } from '../onnx/types.ts';
import { floatTensors } from './float-tensors.ts';

/**
 * Ops whose first input and first output are NCHW maps by the ONNX spec. Not Resize: it scales whichever axes its
 * scales name (a TensorFlow export resizes NHWC maps).
 */
const CHANNEL_FIRST_OPS = new Set([
  'Conv', 'ConvTranspose', 'DepthToSpace', 'SpaceToDepth', 'MaxPool', 'AveragePool', 'LpPool',
  'BatchNormalization', 'InstanceNormalization',
]);

/** Ops whose output has the layout of their tensor inputs (same rank, element by element or along an axis). */
const LAYOUT_KEEPING_OPS = new Set([
  'Relu', 'LeakyRelu', 'PRelu', 'Sigmoid', 'Tanh', 'Clip', 'Elu', 'Selu', 'HardSigmoid', 'HardSwish', 'Softplus',
  'Softsign', 'Erf', 'Abs', 'Neg', 'Sqrt', 'Exp', 'Log', 'Identity', 'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min',
  'Sum', 'Mean', 'Concat', 'Pad', 'Slice', 'Cast', 'Dropout', 'Gelu', 'Mish',
]);

/**
 * The model's float activations that a channel-first op reads or writes, and those joined to one by layout-keeping
 * ops (either way: an Add of two tensors has their layout), plus the image input (srq's models take [1, C, H, W]).
 * Links run through float activations only, so an index or shape tensor never carries one map's layout to another;
 * the answer is the same whichever tensors a calibration pass measures.
 */
export function channelFirstTensors(model: ModelProto): Set<string> {
  const graph = model.graph!;
  const g = new Graph(graph);
  const maps = new Set([...floatTensors(g)].filter((t) => !g.initializer(t)));
  const known = new Set<string>((graph.input ?? []).map((i) => i.name!).filter((n) => maps.has(n)));
  const links: string[][] = [];
  for (const node of graph.node ?? []) {
    const op = node.opType ?? '';
    if (CHANNEL_FIRST_OPS.has(op)) {
      for (const t of [node.input?.[0], node.output?.[0]]) if (t && maps.has(t)) known.add(t);
    } else if (LAYOUT_KEEPING_OPS.has(op)) {
      links.push([...(node.input ?? []), ...(node.output ?? [])].filter((t) => maps.has(t)));
    }
  }
  // Spread along the links until nothing changes (each pass adds at least one tensor or stops).
  for (let grew = true; grew;) {
    grew = false;
    for (const link of links) {
      if (!link.some((t) => known.has(t)) || link.every((t) => known.has(t))) continue;
      for (const t of link) known.add(t);
      grew = true;
    }
  }
  return known;
}
