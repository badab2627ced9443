// Brings a model that takes and gives pixels in [0, 255] (EDSR's rgb_range=255, many ×255 exports) to srq's
// [0, 1] contract, exactly: ×255 folded into the convs that read the input, ÷255 into the conv that writes the
// output, or as a Mul node where no conv sits there. Runtime-agnostic.
import { makeNode } from '../onnx/build.ts';
import { Graph } from '../onnx/graph.ts';
import { cloneModel } from '../onnx/model.ts';
import { DataType, makeTensor, tensorDims, tensorToFloat32 } from '../onnx/tensor.ts';
import type { ModelProto, NodeProto } from '../onnx/types.ts';

export function normalizeInputRange(source: ModelProto): ModelProto {
  const model = cloneModel(source);
  const graph = new Graph(model.graph!);
  const input = graph.inputs[0]!.name!;
  const output = graph.outputs[0]!.name!;

  const readers = graph.consumers(input);
  if (readers.length > 0 && readers.every((n) => foldable(graph, n, 1))) {
    for (const conv of readers) scaleConv(graph, conv, 255, false);
  } else {
    const scaled = graph.uniqueName(`${input}_x255`);
    graph.replaceUses(input, scaled);
    graph.addInitializer(makeTensor(graph.uniqueName('srq_255'), DataType.FLOAT, [], new Float32Array([255])));
    graph.addNode(makeNode('Mul', [input, graph.proto.initializer!.at(-1)!.name!], [scaled], {}, 'srq_input_x255'));
  }

  const writer = graph.producer(output);
  if (writer && foldable(graph, writer, 1)) {
    scaleConv(graph, writer, 1 / 255, true);
  } else {
    const raw = graph.uniqueName(`${output}_0_255`);
    for (const n of graph.nodes) n.output = (n.output ?? []).map((o) => (o === output ? raw : o));
    graph.addInitializer(makeTensor(graph.uniqueName('srq_inv255'), DataType.FLOAT, [], new Float32Array([1 / 255])));
    graph.addNode(makeNode('Mul', [raw, graph.proto.initializer!.at(-1)!.name!], [output], {}, 'srq_output_div255'));
  }
  graph.sort();
  return model;
}

/** A Conv whose weight (and bias) are initializers used by this node alone, so scaling them changes nothing else. */
function foldable(graph: Graph, node: NodeProto, maxUses: number): boolean {
  if (node.opType !== 'Conv') return false;
  const [, w, b] = node.input ?? [];
  const own = (t: string | undefined) => !t || (graph.initializer(t) !== undefined && graph.consumers(t).length <= maxUses);
  return !!w && own(w) && own(b);
}

/** conv(k·x) = conv_{k·W}(x); k·conv(x) = conv_{k·W, k·b}(x). */
function scaleConv(graph: Graph, conv: NodeProto, k: number, withBias: boolean): void {
  const names = withBias ? conv.input!.slice(1, 3) : conv.input!.slice(1, 2);
  for (const name of names) {
    if (!name) continue;
    const t = graph.initializer(name)!;
    const values = tensorToFloat32(t).map((v) => v * k);
    graph.removeInitializer(name);
    graph.addInitializer(makeTensor(name, DataType.FLOAT, tensorDims(t), values));
  }
}
