// One range for a Concat's inputs and output where that costs little precision. ORT's QLinearConcat copies the
// bytes of an input quantized like its output and requantizes the others (a table lookup per byte, on one
// thread): on RRDBNet's dense blocks that requantizing was 17% of an INT8 run at 2 threads.
//
// Concats that share tensors (a dense block's Concats all take its input and earlier outputs) can only copy if they
// share one range, so tensors are merged greedily, Concat by Concat in graph order, into groups whose range is the union of their
// members'. A merge is refused when the union would be more than MAX_WIDENING times as wide as the range of a
// member that something other than a Concat reads (a conv's input, a residual): those keep their precision. A
// member only Concats read loses nothing it had: its values were requantized to the Concat's range anyway.
// Tensors whose range is part of what they compute are never merged: a folded Relu/Clip's output (its producer
// clamps by quantizing to [0, max]; a shared range below 0 would undo the Relu), exact ranges from the graph, and
// graph inputs (an image in [0, 1] keeps scale 1/255, which holds every 8-bit pixel exactly).
import type { Graph } from '../onnx/graph.ts';
import type { QuantPlan } from './plan.ts';
import type { Range } from './rewrite.ts';

/**
 * How much wider than its own range a precision-relevant tensor's shared range may be. Measured with `srq validate`
 * on the held-out photos (fidelity vs FP32): esrgan-medium-x4 49.31 dB with no sharing, 49.23 at 1.25, 48.70 with
 * no limit (its final Concat of all ten blocks' outputs then widens them 2.2×).
 */
export const MAX_WIDENING = 1.25;

/** Sets every grouped tensor's range to its group's union; returns the groups formed (two or more members). */
export function shareConcatRanges(graph: Graph, plan: QuantPlan, ranges: Map<string, Range>): string[][] {
  const own = new Map(ranges);
  const parent = new Map<string, string>();
  const members = new Map<string, string[]>();
  const find = (t: string): string => {
    let r = t;
    while (parent.has(r) && parent.get(r) !== r) r = parent.get(r)!;
    return r;
  };
  const group = (t: string) => members.get(find(t)) ?? [t];
  const sharedBy = new Set([...plan.shared.keys()].map((t) => plan.root(t)));
  const pinned = new Set([
    ...plan.folded.map((n) => n.output![0]!),
    ...plan.clipBounds.keys(),
    ...plan.fixedRanges.keys(),
    ...graph.inputs.map((v) => v.name!),
  ]);
  // A tensor whose precision matters beyond Concats: read by another op, a graph output, or shared by a moved copy.
  const relevant = (t: string) => sharedBy.has(t) || graph.isGraphOutput(t) || graph.consumers(t).some((n) => n.opType !== 'Concat');

  for (const [out, ...inputs] of plan.rangeGroups) {
    for (const input of inputs) {
      const [a, b] = [find(plan.root(out)), find(plan.root(input))];
      if (a === b || !own.has(a) || !own.has(b) || pinned.has(a) || pinned.has(b)) continue;
      const joined = [...group(a), ...group(b)];
      const union = unionOf(joined.map((t) => own.get(t)!));
      const width = union.max - union.min;
      if (joined.some((t) => relevant(t) && width > MAX_WIDENING * (own.get(t)!.max - own.get(t)!.min))) continue;
      parent.set(a, a);
      parent.set(b, a);
      members.set(a, joined);
      members.delete(b);
    }
  }
  const groups = [...members.values()];
  for (const g of groups) {
    const union = unionOf(g.map((t) => own.get(t)!));
    for (const t of g) ranges.set(t, union);
  }
  return groups;
}

function unionOf(rs: readonly Range[]): Range {
  return { min: Math.min(...rs.map((r) => r.min)), max: Math.max(...rs.map((r) => r.max)) };
}
