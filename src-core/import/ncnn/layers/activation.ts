// Activation layers, and the activations ncnn fuses into convolutions (params 9 = type, 10 = params;
// src/layer/fused_activation.h activation_ss).
import { attr } from '../../../onnx/build.ts';
import type { Blob, LayerContext, LayerConverter } from '../context.ts';
import { expectInputs } from '../context.ts';

const FLT_MAX = 3.4028234663852886e38;

/** Emits `x -> out` for ncnn activation_type 1..6 (0 = none: `x` is passed through as `out` by the caller). */
export function emitFusedActivation(ctx: LayerContext, type: number, params: number[], x: string, out: string): void {
  const need = (n: number) => {
    if (params.length < n) ctx.fail(`activation type ${type} needs ${n} params in 10=, found ${params.length}`);
  };
  switch (type) {
    case 1:
      ctx.node('Relu', [x], [out]);
      return;
    case 2:
      need(1);
      ctx.node('LeakyRelu', [x], [out], { alpha: attr.float(params[0]!) });
      return;
    case 3:
      need(2);
      ctx.node('Clip', [x, ctx.scalar(params[0]!), ctx.scalar(params[1]!)], [out]);
      return;
    case 4:
      ctx.node('Sigmoid', [x], [out]);
      return;
    case 5: {
      // Mish is an opset-18 op; x * tanh(softplus(x)) is what ncnn computes.
      const sp = ctx.temp('softplus');
      const th = ctx.temp('tanh');
      ctx.node('Softplus', [x], [sp]);
      ctx.node('Tanh', [sp], [th]);
      ctx.node('Mul', [x, th], [out]);
      return;
    }
    case 6: {
      // ncnn: 0 below -beta/alpha, x above (1-beta)/alpha, else x * (alpha x + beta) = x * HardSigmoid(x).
      need(2);
      const hs = ctx.temp('hardsigmoid');
      ctx.node('HardSigmoid', [x], [hs], { alpha: attr.float(params[0]!), beta: attr.float(params[1]!) });
      ctx.node('Mul', [x, hs], [out]);
      return;
    }
    default:
      ctx.fail(`fused activation type ${type} is unknown (ncnn has 0..6)`);
  }
}

const same = (x: Blob, name: string): Blob => ({ ...x, name });

export const activationLayers: Record<string, LayerConverter> = {
  ReLU: (ctx, inputs) => {
    expectInputs(ctx, inputs, 1);
    const slope = ctx.params.float(0, 0);
    if (slope === 0) ctx.node('Relu', [inputs[0]!.name], [ctx.top()]);
    else ctx.node('LeakyRelu', [inputs[0]!.name], [ctx.top()], { alpha: attr.float(slope) });
    return [same(inputs[0]!, ctx.top())];
  },
  PReLU: (ctx, inputs) => {
    expectInputs(ctx, inputs, 1);
    const x = inputs[0]!;
    const n = ctx.params.int(0, 0);
    if (n !== 1 && n !== x.c) ctx.fail(`has ${n} slopes (0=${n}) for ${x.c} channels; ncnn needs 1 or one per channel`);
    const slopes = ctx.bin.raw(n, 'the slopes', ctx.layer.name);
    // ONNX broadcasts from the right: [c, 1, 1] is per channel of [1, c, h, w].
    ctx.node('PRelu', [x.name, ctx.weight('slope', n === 1 ? [1] : [n, 1, 1], slopes)], [ctx.top()]);
    return [same(x, ctx.top())];
  },
  Sigmoid: (ctx, inputs) => {
    expectInputs(ctx, inputs, 1);
    ctx.node('Sigmoid', [inputs[0]!.name], [ctx.top()]);
    return [same(inputs[0]!, ctx.top())];
  },
  TanH: (ctx, inputs) => {
    expectInputs(ctx, inputs, 1);
    ctx.node('Tanh', [inputs[0]!.name], [ctx.top()]);
    return [same(inputs[0]!, ctx.top())];
  },
  Clip: (ctx, inputs) => {
    expectInputs(ctx, inputs, 1);
    const min = ctx.params.float(0, -FLT_MAX);
    const max = ctx.params.float(1, FLT_MAX);
    ctx.node('Clip', [inputs[0]!.name, ctx.scalar(min), ctx.scalar(max)], [ctx.top()]);
    return [same(inputs[0]!, ctx.top())];
  },
};
