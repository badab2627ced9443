// Cutting a graph down to the tensors a pass reads. onnxruntime runs every node of a session whatever a run fetches,
// so passes that read a model's tensors part by part (GPTQ's inputs, bias correction's sums, equalization's ranges,
// error reports) run a copy cut after each part's tensors; the values they read are the same (files byte-identical
// on the corpus). Real-ESRGAN x4plus, one 128² tile through every part: GPTQ's 11 parts 31.8 → 18.3 s, bias
// correction's 8 parts 27.2 → 19.6 s (`npm run bench:part-runs`).
import { cloneModel } from './model.ts';
import { DataType } from './tensor.ts';
import type { GraphProto, ModelProto, NodeProto } from './types.ts';

/** A copy of the model that computes these tensors only (keepOnlyOutputs). */
export function computingOnly(model: ModelProto, tensors: readonly string[]): ModelProto {
  const copy = cloneModel(model);
  keepOnlyOutputs(copy.graph!, tensors);
  return copy;
}

/**
 * Makes `tensors` the graph's only outputs (float, unless already an output) and drops, in place, every node and
 * initializer they do not depend on. Graph inputs stay: callers feed them as before.
 */
export function keepOnlyOutputs(graph: GraphProto, tensors: readonly string[]): void {
  const outputs = new Map((graph.output ?? []).map((o) => [o.name ?? '', o]));
  graph.output = tensors.map((t) => outputs.get(t) ?? { name: t, type: { tensorType: { elemType: DataType.FLOAT } } });
  const needed = new Set(tensors);
  const kept: NodeProto[] = [];
  for (const node of [...(graph.node ?? [])].reverse()) {
    if (!(node.output ?? []).some((o) => needed.has(o))) continue;
    kept.push(node);
    for (const name of readsOf(node)) needed.add(name);
  }
  graph.node = kept.reverse();
  graph.initializer = (graph.initializer ?? []).filter((t) => needed.has(t.name ?? ''));
  graph.sparseInitializer = (graph.sparseInitializer ?? []).filter((t) => needed.has(t.values?.name ?? ''));
  graph.valueInfo = (graph.valueInfo ?? []).filter((v) => needed.has(v.name ?? ''));
}

/** A node's inputs and the outer-scope names its subgraphs (If, Loop, Scan bodies) read. */
function readsOf(node: NodeProto): string[] {
  const names = [...(node.input ?? [])].filter((n) => n !== '');
  for (const a of node.attribute ?? []) {
    for (const g of [a.g, ...(a.graphs ?? [])]) for (const inner of g?.node ?? []) names.push(...readsOf(inner));
  }
  return names;
}
