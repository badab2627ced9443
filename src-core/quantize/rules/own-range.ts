// Ops that compute new values from one input: input and output each get their own calibrated range.
// ORT fuses LeakyRelu, Sigmoid, AveragePool and GlobalAveragePool into QLinear* kernels; PRelu has none and runs
// between DQ and Q, which still keeps its neighbours int8.
import type { OpRule } from '../plan.ts';

export const ownRangeRule: OpRule = {
  opTypes: ['LeakyRelu', 'Sigmoid', 'PRelu', 'AveragePool', 'GlobalAveragePool'],
  apply(node, ctx) {
    const x = node.input?.[0];
    const out = node.output?.[0];
    if (!ctx.isActivation(x) || !out || !ctx.isActivation(out)) return;
    ctx.activation(x);
    ctx.activation(out);
    ctx.done(node);
  },
};
