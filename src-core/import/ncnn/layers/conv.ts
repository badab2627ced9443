// Convolution, ConvolutionDepthWise, Deconvolution and DeconvolutionDepthWise (src/layer/convolution.cpp,
// convolutiondepthwise.cpp, deconvolution.cpp, deconvolutiondepthwise.cpp). Params: 0 num_output, 1/11 kernel w/h, 2/12 dilation, 3/13 stride, 4/15/14/16 pad
// left/right/top/bottom (-233 SAME_UPPER, -234 SAME_LOWER), 5 bias_term, 6 weight_data_size, 7 group,
// 8 int8_scale_term, 9/10 fused activation, 18 pad_value (conv) or output_pad_right (deconv), 19 dynamic
// weight (conv) or output_pad_bottom (deconv), 20/21 output w/h (deconv), 28 dynamic weight (deconv).
// Weights: one tagged array [out][in/group][kh][kw] (conv), [group][out/g][in/g][kh][kw] (deconv), then raw bias.
import { attr } from '../../../onnx/build.ts';
import type { AttributeProto } from '../../../onnx/types.ts';
import type { Blob, LayerContext, LayerConverter } from '../context.ts';
import { expectInputs } from '../context.ts';
import { emitFusedActivation } from './activation.ts';

interface ConvParams {
  outC: number;
  kw: number; kh: number;
  dw: number; dh: number;
  sw: number; sh: number;
  pl: number; pr: number; pt: number; pb: number;
  bias: boolean;
  weightSize: number;
  group: number;
  actType: number;
  actParams: number[];
}

function readConvParams(ctx: LayerContext, depthwise: boolean): ConvParams {
  const p = ctx.params;
  const kw = p.int(1, 0);
  const dw = p.int(2, 1);
  const sw = p.int(3, 1);
  const pl = p.int(4, 0);
  const pt = p.int(14, pl);
  const c: ConvParams = {
    outC: p.int(0, 0),
    kw, kh: p.int(11, kw),
    dw, dh: p.int(12, dw),
    sw, sh: p.int(13, sw),
    pl, pr: p.int(15, pl), pt, pb: p.int(16, pt),
    bias: p.int(5, 0) !== 0,
    weightSize: p.int(6, 0),
    group: depthwise ? p.int(7, 1) : 1,
    actType: p.int(9, 0),
    actParams: p.array(10),
  };
  if (c.outC <= 0 || c.kw <= 0 || c.kh <= 0 || c.sw <= 0 || c.sh <= 0 || c.dw <= 0 || c.dh <= 0) {
    ctx.fail('num_output, kernel, stride and dilation must be positive');
  }
  if (c.group <= 0 || c.outC % c.group !== 0) ctx.fail(`group ${c.group} does not divide num_output ${c.outC}`);
  if (p.int(8, 0) !== 0) {
    ctx.fail('is int8-quantized (8=int8_scale_term); import the float model (ncnn2int8 input) and quantize it with srq quantize');
  }
  return c;
}

type PadMode = { kind: 'explicit' } | { kind: 'auto'; mode: 'SAME_UPPER' | 'SAME_LOWER' };

function padMode(ctx: LayerContext, c: ConvParams): PadMode {
  const pads = [c.pl, c.pr, c.pt, c.pb];
  if (pads.every((v) => v === -233)) return { kind: 'auto', mode: 'SAME_UPPER' };
  if (pads.every((v) => v === -234)) return { kind: 'auto', mode: 'SAME_LOWER' };
  if (pads.some((v) => v < 0)) ctx.fail(`pads ${pads.join(',')} mix -233/-234 with others`);
  return { kind: 'explicit' };
}

const kernelExtent = (k: number, d: number) => d * (k - 1) + 1;

function convolution(depthwise: boolean): LayerConverter {
  return (ctx, inputs) => {
    expectInputs(ctx, inputs, 1);
    const x = inputs[0]!;
    const p = ctx.params;
    if (p.int(19, 0) !== 0) ctx.fail('takes its weights from a blob (19=dynamic_weight), which srq does not support');
    const c = readConvParams(ctx, depthwise);
    const maxk = c.kw * c.kh;
    const inPerGroup = c.weightSize / maxk / c.outC;
    if (!Number.isInteger(inPerGroup) || inPerGroup * c.group !== x.c) {
      ctx.fail(`weight_data_size ${c.weightSize} (6=) does not fit ${c.outC} outputs of ${c.kh}x${c.kw} kernels over ${x.c} input channels in ${c.group} group(s)`);
    }
    const w = ctx.bin.tagged(c.weightSize, 'the weights', ctx.layer.name);
    if (w.storage === 'int8') ctx.fail('stores int8 weights without int8 scales; the .bin does not match the .param');
    const bias = c.bias ? ctx.bin.raw(c.outC, 'the bias', ctx.layer.name) : undefined;

    const mode = padMode(ctx, c);
    const padValue = p.float(18, 0);
    let input = x.name;
    const attrs: Record<string, AttributeProto> = {
      kernel_shape: attr.ints([c.kh, c.kw]),
      strides: attr.ints([c.sh, c.sw]),
      dilations: attr.ints([c.dh, c.dw]),
    };
    if (c.group !== 1) attrs.group = attr.int(c.group);
    if (mode.kind === 'auto') {
      if (padValue !== 0) ctx.fail(`pads with ${padValue} (18=) in SAME mode, which ONNX Conv cannot express`);
      attrs.auto_pad = attr.string(mode.mode);
    } else if (padValue !== 0 && (c.pl || c.pr || c.pt || c.pb)) {
      input = ctx.temp('padded');
      const pads = ctx.int64s([0, 0, c.pt, c.pl, 0, 0, c.pb, c.pr]);
      ctx.node('Pad', [x.name, pads, ctx.scalar(padValue)], [input], { mode: attr.string('constant') });
    } else {
      attrs.pads = attr.ints([c.pt, c.pl, c.pb, c.pr]);
    }
    const convInputs = [input, ctx.weight('weight', [c.outC, inPerGroup, c.kh, c.kw], w.values)];
    if (bias) convInputs.push(ctx.weight('bias', [c.outC], bias));
    const convOut = c.actType === 0 ? ctx.top() : ctx.temp('conv');
    ctx.node('Conv', convInputs, [convOut], attrs);
    if (c.actType !== 0) emitFusedActivation(ctx, c.actType, c.actParams, convOut, ctx.top());

    const size = (v: number, k: number, d: number, s: number, a: number, b: number) =>
      mode.kind === 'auto' ? Math.ceil(v / s) : Math.floor((v + a + b - kernelExtent(k, d)) / s) + 1;
    const out: Blob = {
      name: ctx.top(),
      c: c.outC,
      h: x.h.map((v) => size(v, c.kh, c.dh, c.sh, c.pt, c.pb)),
      w: x.w.map((v) => size(v, c.kw, c.dw, c.sw, c.pl, c.pr)),
    };
    if ([...out.h, ...out.w].some((v) => v <= 0)) ctx.fail('makes an empty output for the probe input sizes');
    return [out];
  };
}

function deconvolution(depthwise: boolean): LayerConverter {
  return (ctx, inputs) => {
    expectInputs(ctx, inputs, 1);
    const x = inputs[0]!;
    const p = ctx.params;
    if (p.int(28, 0) !== 0) ctx.fail('takes its weights from a blob (28=dynamic_weight), which srq does not support');
    const c = readConvParams(ctx, depthwise);
    const outPadW = p.int(18, 0);
    const outPadH = p.int(19, outPadW);
    const outputW = p.int(20, 0);
    const outputH = p.int(21, outputW);
    const pads = [c.pl, c.pr, c.pt, c.pb];
    const explicit = pads.some((v) => v > 0);
    if (!explicit && outputW > 0 && outputH > 0) {
      ctx.fail(`sets a fixed output size (20=${outputW} 21=${outputH}), which a model with any input size cannot keep`);
    }
    const pl = Math.max(c.pl, 0), pr = Math.max(c.pr, 0), pt = Math.max(c.pt, 0), pb = Math.max(c.pb, 0);
    if (!explicit && pads.some((v) => v < 0 && v !== -233 && v !== -234)) ctx.fail(`pads ${pads.join(',')} are not supported`);
    const maxk = c.kw * c.kh;
    const g = c.group;
    const inG = c.weightSize / maxk / c.outC; // input channels per group
    const inC = inG * g;
    const outG = c.outC / g;
    if (!Number.isInteger(inG) || inC !== x.c) {
      ctx.fail(`weight_data_size ${c.weightSize} (6=) does not fit ${c.outC} outputs of ${c.kh}x${c.kw} kernels over ${x.c} input channels in ${g} group(s)`);
    }
    const w = ctx.bin.tagged(c.weightSize, 'the weights', ctx.layer.name);
    if (w.storage === 'int8') ctx.fail('stores int8 weights; the .bin does not match the .param');
    const bias = c.bias ? ctx.bin.raw(c.outC, 'the bias', ctx.layer.name) : undefined;
    // ncnn scatters with weight [group][out/g][in/g][k]; ONNX ConvTranspose's weight is [in][out/g][k] (input
    // channel gi*inG + i), same kernel order, no flip.
    const t = new Float32Array(w.values.length);
    for (let gi = 0; gi < g; gi++) {
      for (let o = 0; o < outG; o++) {
        for (let i = 0; i < inG; i++) {
          const from = ((gi * outG + o) * inG + i) * maxk;
          t.set(w.values.subarray(from, from + maxk), ((gi * inG + i) * outG + o) * maxk);
        }
      }
    }
    const attrs: Record<string, AttributeProto> = {
      kernel_shape: attr.ints([c.kh, c.kw]),
      strides: attr.ints([c.sh, c.sw]),
      dilations: attr.ints([c.dh, c.dw]),
      pads: attr.ints([pt, pl, pb, pr]),
    };
    if (g !== 1) attrs.group = attr.int(g);
    if (outPadW || outPadH) attrs.output_padding = attr.ints([outPadH, outPadW]);
    const convInputs = [x.name, ctx.weight('weight', [inC, outG, c.kh, c.kw], t)];
    if (bias) convInputs.push(ctx.weight('bias', [c.outC], bias));
    const convOut = c.actType === 0 ? ctx.top() : ctx.temp('deconv');
    ctx.node('ConvTranspose', convInputs, [convOut], attrs);
    if (c.actType !== 0) emitFusedActivation(ctx, c.actType, c.actParams, convOut, ctx.top());
    const size = (v: number, k: number, d: number, s: number, op: number, a: number, b: number) => (v - 1) * s + kernelExtent(k, d) + op - a - b;
    return [{
      name: ctx.top(),
      c: c.outC,
      h: x.h.map((v) => size(v, c.kh, c.dh, c.sh, outPadH, pt, pb)),
      w: x.w.map((v) => size(v, c.kw, c.dw, c.sw, outPadW, pl, pr)),
    }];
  };
}

export const convLayers: Record<string, LayerConverter> = {
  Convolution: convolution(false),
  ConvolutionDepthWise: convolution(true),
  Deconvolution: deconvolution(false),
  DeconvolutionDepthWise: deconvolution(true),
};
