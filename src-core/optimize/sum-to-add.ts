// ONNX Sum (variadic; ncnn conversions of Real-ESRGAN-style nets use it for residual adds) as binary Adds:
// Sum(a, b) = Add(a, b), Sum(a, b, c, ...) = Add(Add(a, b), c)... in input order, the order in which ORT's Sum
// kernel accumulates, so the result is bit-identical. Add has the quantization rule (and ORT's QLinearAdd
// kernel) that Sum lacks. Sum of one input is an Identity.
import { makeNode } from '../onnx/build.ts';
import { Graph } from '../onnx/graph.ts';
import type { ModelProto, NodeProto } from '../onnx/types.ts';

/** Rewrites every default-domain Sum in place; returns how many were rewritten. */
export function sumsToAdds(model: ModelProto): number {
  const graph = new Graph(model.graph!);
  const sums = graph.nodes.filter((n) => n.opType === 'Sum' && (!n.domain || n.domain === 'ai.onnx'));
  for (const sum of sums) {
    const inputs = sum.input ?? [];
    const out = sum.output?.[0];
    if (!out || inputs.length === 0) continue;
    const base = sum.name || `${out}_Sum`;
    const replacement: NodeProto[] = [];
    if (inputs.length === 1) {
      replacement.push(makeNode('Identity', [inputs[0]!], [out], {}, base));
    } else {
      // Distinct bases (partial1, partial2, ...), so the new names cannot collide with each other either.
      let acc = inputs[0]!;
      for (let i = 1; i < inputs.length; i++) {
        const last = i === inputs.length - 1;
        const y = last ? out : graph.uniqueName(`${out}_partial${i}`);
        replacement.push(makeNode('Add', [acc, inputs[i]!], [y], {}, last ? base : graph.uniqueName(`${base}_add${i}`)));
        acc = y;
      }
    }
    graph.nodes.splice(graph.nodes.indexOf(sum), 1, ...replacement);
    graph.invalidate();
  }
  return sums.length;
}
