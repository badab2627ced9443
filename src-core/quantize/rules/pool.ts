// Averaging pools compute new values, so their output gets its own range (QLinearAveragePool,
// QLinearGlobalAveragePool in ORT). MaxPool only selects values and lives in move.ts.
import type { OpRule } from '../plan.ts';

export const averagePoolRule: OpRule = {
  opTypes: ['AveragePool', 'GlobalAveragePool'],
  apply(node, ctx) {
    const x = node.input?.[0];
    const out = node.output?.[0];
    if (!ctx.isActivation(x) || !out || !ctx.isActivation(out)) return;
    ctx.activation(x);
    ctx.activation(out);
    ctx.done(node);
  },
};
