// Ops that only move or select values (MaxPool included: it picks one of its inputs): the output reuses the input's parameters, so quantized values pass
// through unchanged. ORT drops the Q/DQ pair around Resize, MaxPool, Reshape, Transpose, Squeeze, Unsqueeze and
// runs them on uint8; DepthToSpace, SpaceToDepth, Slice and Pad run between DQ and Q but lose nothing.
import type { OpRule } from '../plan.ts';

export const moveRule: OpRule = {
  opTypes: ['Resize', 'Upsample', 'DepthToSpace', 'SpaceToDepth', 'MaxPool', 'Reshape', 'Transpose', 'Slice', 'Pad',
    'Squeeze', 'Unsqueeze', 'Flatten'],
  apply(node, ctx) {
    const x = node.input?.[0];
    const out = node.output?.[0];
    if (!ctx.isActivation(x) || !out || !ctx.isActivation(out)) return;
    // At the graph's end there is nothing int8 to feed: move float values rather than add a Q/DQ pair.
    if (ctx.graph.isGraphOutput(out)) return ctx.activation(x), ctx.done(node);
    // MaxPool's optional second output (indices) is int64; only the values share parameters.
    ctx.share(out, x);
    ctx.done(node);
  },
};
