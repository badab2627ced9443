// Conv and ConvTranspose: u8 activations in and out, int8 per-channel weights, int32 bias. ORT's CPU EP fuses
// DQ -> Conv -> Q into QLinearConv (ConvTranspose stays DQ -> float op -> Q).
import { getIntAttr } from '../../onnx/build.ts';
import type { OpRule } from '../plan.ts';

export const convRule: OpRule = {
  opTypes: ['Conv', 'ConvTranspose'],
  apply(node, ctx) {
    const [x, w, b] = node.input ?? [];
    const out = node.output?.[0];
    if (!ctx.isActivation(x) || !out) return;
    // Weights: output channels are axis 0 for Conv, axis 1 for ConvTranspose (only whole when group = 1).
    let axis: number | undefined = 0;
    if (node.opType === 'ConvTranspose') axis = getIntAttr(node, 'group', 1) === 1 ? 1 : undefined;
    ctx.activation(x);
    if (ctx.isFloatInitializer(w)) {
      ctx.weight(w, axis);
      if (ctx.isFloatInitializer(b)) ctx.bias(b, x, w, node);
    } else if (ctx.isActivation(w)) {
      ctx.activation(w);
    } else {
      return;
    }
    ctx.activation(out);
    ctx.done(node);
  },
};
