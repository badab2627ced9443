// Concat (dense connections): every input and the output quantized, sharing one range where that costs little
// (concat-ranges.ts): ORT's QLinearConcat copies an input quantized like its output and requantizes the others.
import type { OpRule } from '../plan.ts';

export const concatRule: OpRule = {
  opTypes: ['Concat'],
  apply(node, ctx) {
    const inputs = (node.input ?? []).filter((x) => x);
    const out = node.output?.[0];
    if (!out || !ctx.isActivation(out) || inputs.length === 0) return;
    if (!inputs.every((x) => ctx.isActivation(x) || ctx.isFloatInitializer(x))) return;
    for (const x of inputs) ctx.operand(x);
    ctx.activation(out);
    ctx.plan.rangeGroups.push([out, ...inputs.filter((x) => ctx.isActivation(x))]);
    ctx.done(node);
  },
};
