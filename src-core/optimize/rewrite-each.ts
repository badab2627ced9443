// The loop every node-local rewrite shares: visit each default-domain node of one op type, then tidy the graph.
import { Graph } from '../onnx/graph.ts';
import type { ModelProto, NodeProto } from '../onnx/types.ts';

/**
 * Calls `rewrite` on every default-domain `opType` node (over a snapshot: rewrites add and remove nodes). When any
 * returned true, drops what became unused and restores topological order. Returns how many were rewritten.
 */
export function rewriteEach(model: ModelProto, opType: string, rewrite: (graph: Graph, node: NodeProto) => boolean): number {
  const graph = new Graph(model.graph!);
  let rewritten = 0;
  for (const node of [...graph.nodes]) {
    if (node.opType !== opType || (node.domain && node.domain !== 'ai.onnx')) continue;
    if (rewrite(graph, node)) rewritten++;
  }
  if (rewritten > 0) {
    graph.removeUnused();
    graph.sort();
  }
  return rewritten;
}
