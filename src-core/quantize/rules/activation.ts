// Activations. Relu and Clip fold into the producer's quantized output when that output feeds only them: an
// asymmetric u8 range that starts at 0 (or the Clip bounds) clamps exactly as they do, so the node disappears
// and ORT can fuse Conv+Relu into one QLinearConv. Otherwise they pass values through with shared parameters.
// LeakyRelu and Sigmoid get their own output range (QLinearLeakyRelu / QLinearSigmoid); PRelu is quantized
// around (no fused kernel) so neighbours stay int8.
import type { OpRule, RuleContext } from '../plan.ts';
import type { NodeProto } from '../../onnx/types.ts';

function canFold(node: NodeProto, ctx: RuleContext): boolean {
  const x = node.input?.[0];
  if (!x) return false;
  const producer = ctx.graph.producer(x);
  return (
    !!producer &&
    ctx.plan.quantizedNodes.has(producer) &&
    ctx.plan.activations.has(x) &&
    ctx.graph.consumers(x).length === 1 &&
    !ctx.graph.isGraphOutput(x)
  );
}

export const clampRule: OpRule = {
  opTypes: ['Relu', 'Clip'],
  apply(node, ctx) {
    const x = node.input?.[0];
    const out = node.output?.[0];
    if (!ctx.isActivation(x) || !out || !ctx.isActivation(out)) return;
    // Clip's bounds must be constants for folding to be exact.
    const bounds = (node.input ?? []).slice(1).filter((b) => b);
    if (bounds.some((b) => !ctx.graph.initializer(b))) return;
    if (canFold(node, ctx)) {
      ctx.plan.activations.delete(x);
      ctx.activation(out);
      ctx.fold(node);
    } else {
      ctx.share(out, x);
    }
    ctx.done(node);
  },
};

export const pointwiseRule: OpRule = {
  opTypes: ['LeakyRelu', 'Sigmoid', 'PRelu'],
  apply(node, ctx) {
    const x = node.input?.[0];
    const out = node.output?.[0];
    if (!ctx.isActivation(x) || !out || !ctx.isActivation(out)) return;
    ctx.activation(x);
    ctx.activation(out);
    ctx.done(node);
  },
};
