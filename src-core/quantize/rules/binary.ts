// Add and Mul (residual sums, feature scaling): both operands and the output quantized, each with its own range.
// ORT fuses them into QLinearAdd / QLinearMul.
import type { OpRule } from '../plan.ts';

export const binaryRule: OpRule = {
  opTypes: ['Add', 'Mul'],
  apply(node, ctx) {
    const [a, b] = node.input ?? [];
    const out = node.output?.[0];
    if (!out || !ctx.isActivation(out)) return;
    if (!(ctx.isActivation(a) || ctx.isActivation(b))) return;
    if (!(ctx.isActivation(a) || ctx.isFloatInitializer(a)) || !(ctx.isActivation(b) || ctx.isFloatInitializer(b))) return;
    ctx.operand(a);
    ctx.operand(b);
    ctx.activation(out);
    ctx.done(node);
  },
};
