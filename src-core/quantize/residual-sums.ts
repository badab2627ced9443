// Residual sums: the skip connections that carry a model's signal block after block (RRDBNet's 23×3 dense blocks,
// EDSR's res blocks, a transformer's x + attn(x)). Quantized as QLinearAdd, every sum rounds that stream to one
// per-tensor int8 range and the next blocks carry each rounding on. Kept float (excluded), a sum reads the stream as
// it is (rewrite.ts: a float op reads a float op's output itself), and the stream is rounded only in the copies int8
// convs read; every conv stays int8. The cost is element-wise: a DequantizeLinear of the branch, a float Add, a
// QuantizeLinear for the convs, where QLinearAdd was one int8 pass. Measured (`srq validate --metric fidelity`,
// the six held-out photos; ORT-node profile at 2 threads, 256² tile):
//   RRDBNet-6b (corpus)       all sums float: 47.76 → 49.41 dB fidelity
//   esrgan-medium-x4          49.94 → 50.80 dB, but 25% slower: float Add 68 ms + DQ 41 + Q 23 against QLinearAdd's 16
//   esrgan-slim-x4            52.16 → 52.17 dB
//   Real-ESRGAN x4plus        34.58 → 34.92 dB, PSNR-Y drop 0.127 → 0.088 dB
// So they stay int8 by default, and when static INT8 misses its gate the job tries them float (with PReLUs whole)
// before the accuracy-aware search keeps any conv float (model-job.ts): a sum float costs element-wise passes, a conv
// float its int8 kernel.
import { Graph } from '../onnx/graph.ts';
import type { ModelProto, NodeProto } from '../onnx/types.ts';

const isDefaultDomain = (n: NodeProto) => !n.domain || n.domain === 'ai.onnx';

/**
 * The Add and Mul nodes of the residual stream: each Add one of whose operands something else reads too (the skip
 * tensor is also the block's input), each Add or Mul that writes a graph output, and each Mul by a constant whose only
 * readers are those (a residual scale such as RRDB's ×0.2 between two sums). An Add of two tensors read nowhere else
 * (the int8 form of a PRelu, u·y + v·|y|) is not a residual sum.
 */
export function residualSums(graph: Graph, isConstant: (tensor: string) => boolean): Set<NodeProto> {
  const sums = new Set<NodeProto>();
  const nodes = graph.topologicalOrder().filter(isDefaultDomain);
  for (const node of nodes) {
    const out = node.output?.[0];
    if (!out || (node.opType !== 'Add' && node.opType !== 'Mul')) continue;
    if (graph.isGraphOutput(out)) sums.add(node);
    else if (node.opType === 'Add' && (node.input ?? []).some((x) => !isConstant(x) && graph.consumers(x).some((c) => c !== node))) sums.add(node);
  }
  // A Mul by a constant feeding only sums (walked from the outputs back, so a chain of such Muls joins as a whole).
  for (const node of [...nodes].reverse()) {
    if (node.opType !== 'Mul' || sums.has(node)) continue;
    const [a, b] = node.input ?? [];
    if (!a || !b || isConstant(a) === isConstant(b)) continue;
    const readers = graph.consumers(node.output![0]!);
    if (readers.length > 0 && readers.every((r) => sums.has(r))) sums.add(node);
  }
  return sums;
}

/** Names of the residual sums of a static INT8 result's float graph that are not graph outputs (those stay float). */
export function residualSumNames(floatModel: ModelProto): string[] {
  const graph = new Graph(floatModel.graph!);
  return [...residualSums(graph, (t) => graph.initializer(t) !== undefined)]
    .filter((n) => !graph.isGraphOutput(n.output![0]!))
    .map((n) => n.name ?? '');
}
