// One emitter per Keras layer class: NHWC Keras semantics -> NCHW ONNX nodes. Each emitter also works out
// its output's channel count and spatial size (for a few probe input sizes) so the converter can check
// shapes and infer the model's scale without running it.
import { attr, makeNode } from '../onnx/build.ts';
import type { NodeProto } from '../onnx/types.ts';
import { emitActivation, normalizeActivation, supportedActivations } from './activations.ts';
import type { ActivationScope } from './activations.ts';
import type { KerasLayer } from './keras-topology.ts';
import type { KerasWeight } from './tfjs-weights.ts';

/** A 4-D image tensor in the ONNX graph; h and w hold its size for each probe input size. */
export interface ImageTensor {
  name: string;
  channels: number;
  h: number[];
  w: number[];
}

export interface LayerScope extends ActivationScope {
  readonly layer: KerasLayer;
  /** The layer's weight `${layer}/${param}`; throws KerasWeightsError when absent. */
  weight(param: string): KerasWeight;
  constant(suffix: string, dims: number[], values: Float32Array): string;
  add(...nodes: NodeProto[]): void;
  /** Throws UnsupportedLayerError naming this layer, with `detail` saying which option is the problem. */
  fail(detail: string): never;
}

type LayerEmitter = (scope: LayerScope, inputs: ImageTensor[], output: string) => ImageTensor;

// UpscalerJS's ESRGAN 'rrdn' models (esrgan-thick) register these classes in their setup(tf); see
// packages/shared/src/esrgan/esrgan.ts. MultiplyBeta ignores its config and multiplies by a fixed BETA.
export const UPSCALERJS_BETA = 0.2;
const PIXEL_SHUFFLE = /^PixelShuffle(\d+)x$/;

const emitters: Record<string, LayerEmitter> = {
  Conv2D: conv2d,
  Activation: (s, inputs, out) => {
    const x = single(s, inputs);
    const act = activationOf(s, s.layer.config.activation);
    s.add(...emitActivation(act, x.name, out, s));
    return { ...x, name: out };
  },
  LeakyReLU: (s, inputs, out) => {
    const x = single(s, inputs);
    const alpha = num(s.layer.config.alpha, 0.3); // tfjs-layers' default
    s.add(makeNode('LeakyRelu', [x.name], [out], { alpha: attr.float(alpha) }));
    return { ...x, name: out };
  },
  ReLU: (s, inputs, out) => {
    const x = single(s, inputs);
    const c = s.layer.config;
    if (num(c.negative_slope, 0) !== 0 || num(c.threshold, 0) !== 0) s.fail('negative_slope/threshold other than 0 are not supported');
    const max = c.max_value ?? c.maxValue;
    if (max === undefined || max === null) s.add(makeNode('Relu', [x.name], [out]));
    else s.add(makeNode('Clip', [x.name, s.scalar('min', 0), s.scalar('max', num(max, 0))], [out]));
    return { ...x, name: out };
  },
  Concatenate: (s, inputs, out) => {
    if (inputs.length < 2) s.fail(`needs at least 2 inputs, got ${inputs.length}`);
    const axis = nchwAxis(s, num(s.layer.config.axis, -1));
    s.add(makeNode('Concat', inputs.map((t) => t.name), [out], { axis: attr.int(axis) }));
    const first = inputs[0]!;
    const sum = (pick: (t: ImageTensor) => number[]) => first.h.map((_, i) => inputs.reduce((a, t) => a + pick(t)[i]!, 0));
    if (axis === 1) {
      sameSpatial(s, inputs);
      return { name: out, channels: inputs.reduce((a, t) => a + t.channels, 0), h: first.h, w: first.w };
    }
    if (inputs.some((t) => t.channels !== first.channels)) s.fail('concatenating along a spatial axis needs equal channel counts');
    return axis === 2 ? { ...first, name: out, h: sum((t) => t.h) } : { ...first, name: out, w: sum((t) => t.w) };
  },
  Add: (s, inputs, out) => {
    if (inputs.length < 2) s.fail(`needs at least 2 inputs, got ${inputs.length}`);
    sameSpatial(s, inputs);
    if (inputs.some((t) => t.channels !== inputs[0]!.channels)) s.fail('inputs have different channel counts');
    // A chain of binary Adds rather than Sum: quantizers and runtimes handle Add everywhere.
    let acc = inputs[0]!.name;
    inputs.slice(1).forEach((t, i) => {
      const target = i === inputs.length - 2 ? out : s.tmp(`sum${i + 1}`);
      s.add(makeNode('Add', [acc, t.name], [target]));
      acc = target;
    });
    return { ...inputs[0]!, name: out };
  },
  UpSampling2D: (s, inputs, out) => {
    const x = single(s, inputs);
    const c = s.layer.config;
    channelsLast(s);
    const [sh, sw] = pair(s, c.size ?? 2, 'size');
    const interpolation = c.interpolation ?? 'nearest';
    if (interpolation !== 'nearest' && interpolation !== 'bilinear') {
      s.fail(`interpolation '${String(interpolation)}' is not supported (nearest, bilinear)`);
    }
    // tfjs resizes with alignCorners=false, halfPixelCenters=false: source = dest / scale, i.e. 'asymmetric';
    // nearest picks floor(source).
    const scales = s.constant('scales', [4], Float32Array.of(1, 1, sh, sw));
    const mode = interpolation === 'nearest' ? 'nearest' : 'linear';
    s.add(makeNode('Resize', [x.name, '', scales], [out], {
      mode: attr.string(mode),
      coordinate_transformation_mode: attr.string('asymmetric'),
      ...(mode === 'nearest' ? { nearest_mode: attr.string('floor') } : {}),
    }));
    return { name: out, channels: x.channels, h: x.h.map((v) => v * sh), w: x.w.map((v) => v * sw) };
  },
  MultiplyBeta: (s, inputs, out) => {
    const x = single(s, inputs);
    s.add(makeNode('Mul', [x.name, s.scalar('beta', UPSCALERJS_BETA)], [out]));
    return { ...x, name: out };
  },
};

/** Layer classes the importer converts, for error messages and docs. */
export const supportedLayerClasses: readonly string[] = ['InputLayer', ...Object.keys(emitters), 'PixelShuffle<N>x'];

export function emitterFor(className: string): LayerEmitter | undefined {
  if (Object.hasOwn(emitters, className)) return emitters[className];
  const m = PIXEL_SHUFFLE.exec(className);
  return m ? (s, inputs, out) => pixelShuffle(s, inputs, out, Number(m[1])) : undefined;
}

function conv2d(s: LayerScope, inputs: ImageTensor[], out: string): ImageTensor {
  const x = single(s, inputs);
  const c = s.layer.config;
  channelsLast(s);
  const [kh, kw] = pair(s, c.kernel_size, 'kernel_size');
  const [sh, sw] = pair(s, c.strides ?? 1, 'strides');
  const [dh, dw] = pair(s, c.dilation_rate ?? 1, 'dilation_rate');
  const groups = num(c.groups, 1);
  const filters = num(c.filters, NaN);
  const padding = c.padding ?? 'valid';
  if (padding !== 'same' && padding !== 'valid') s.fail(`padding '${String(padding)}' is not supported (same, valid)`);
  const act = activationOf(s, c.activation);

  const kernel = s.weight('kernel');
  const [kkh, kkw, cin, cout] = kernel.shape;
  if (kernel.shape.length !== 4 || kkh !== kh || kkw !== kw || cout !== filters || cin! * groups !== x.channels) {
    s.fail(
      `kernel shape [${kernel.shape.join(', ')}] does not fit kernel_size [${kh}, ${kw}], ${x.channels} input channels, ` +
        `groups ${groups} and ${filters} filters`,
    );
  }
  const inputsOnnx = [x.name, s.constant('weight', [cout!, cin!, kh, kw], hwioToOihw(kernel.values, kh, kw, cin!, cout!))];
  if (c.use_bias ?? true) {
    const bias = s.weight('bias');
    if (bias.values.length !== cout) s.fail(`bias has ${bias.values.length} values for ${cout} filters`);
    inputsOnnx.push(s.constant('bias', [cout!], bias.values));
  }

  const attrs: Record<string, ReturnType<typeof attr.int>> = {
    kernel_shape: attr.ints([kh, kw]),
    strides: attr.ints([sh, sw]),
    dilations: attr.ints([dh, dw]),
    group: attr.int(groups),
  };
  if (padding === 'valid') {
    attrs.pads = attr.ints([0, 0, 0, 0]);
  } else if (sh === 1 && sw === 1) {
    // TF 'same' pads (k-1)*d in total, the odd one at the end; with stride 1 that does not depend on the size.
    const [th, tw] = [(kh - 1) * dh, (kw - 1) * dw];
    attrs.pads = attr.ints([Math.floor(th / 2), Math.floor(tw / 2), th - Math.floor(th / 2), tw - Math.floor(tw / 2)]);
  } else {
    // With strides the total padding depends on the input size; SAME_UPPER is TF's rule (extra at the end).
    attrs.auto_pad = attr.string('SAME_UPPER');
  }
  const convOut = act === 'linear' ? out : s.tmp('conv');
  s.add(makeNode('Conv', inputsOnnx, [convOut], attrs));
  if (act !== 'linear') s.add(...emitActivation(act, convOut, out, s));

  const size = (n: number, k: number, d: number, stride: number) =>
    padding === 'same' ? Math.ceil(n / stride) : Math.floor((n - (k - 1) * d - 1) / stride) + 1;
  const h = x.h.map((n) => size(n, kh, dh, sh));
  const w = x.w.map((n) => size(n, kw, dw, sw));
  if ([...h, ...w].some((n) => n < 1)) s.fail('the kernel is larger than the image for small inputs; srq needs size-agnostic models');
  return { name: out, channels: cout!, h, w };
}

/** tf.depthToSpace (NHWC): out[y*b+i, x*b+j, c] = in[y, x, (i*b+j)*C' + c], which is ONNX DepthToSpace mode DCR. */
function pixelShuffle(s: LayerScope, inputs: ImageTensor[], out: string, block: number): ImageTensor {
  const x = single(s, inputs);
  const configured = s.layer.config.scale;
  if (configured !== undefined && configured !== block) s.fail(`config.scale ${String(configured)} contradicts the class name`);
  if (block < 2 || x.channels % (block * block) !== 0) s.fail(`${x.channels} channels cannot be shuffled by ${block}x${block}`);
  s.add(makeNode('DepthToSpace', [x.name], [out], { blocksize: attr.int(block), mode: attr.string('DCR') }));
  return { name: out, channels: x.channels / (block * block), h: x.h.map((v) => v * block), w: x.w.map((v) => v * block) };
}

/** Keras kernel [kh, kw, in, out] -> ONNX weight [out, in, kh, kw]. */
export function hwioToOihw(src: Float32Array, kh: number, kw: number, cin: number, cout: number): Float32Array {
  const dst = new Float32Array(src.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let i = 0; i < cin; i++) {
        const from = ((y * kw + x) * cin + i) * cout;
        for (let o = 0; o < cout; o++) dst[((o * cin + i) * kh + y) * kw + x] = src[from + o]!;
      }
    }
  }
  return dst;
}

function activationOf(s: LayerScope, name: unknown): string {
  return normalizeActivation(name) ?? s.fail(`activation ${JSON.stringify(name)} is not supported (supported: ${supportedActivations.join(', ')})`);
}

function single(s: LayerScope, inputs: ImageTensor[]): ImageTensor {
  if (inputs.length !== 1) s.fail(`expects one input, got ${inputs.length}`);
  return inputs[0]!;
}

function channelsLast(s: LayerScope): void {
  const format = s.layer.config.data_format ?? 'channels_last';
  if (format !== 'channels_last') s.fail(`data_format '${String(format)}' is not supported; only channels_last`);
}

function sameSpatial(s: LayerScope, inputs: ImageTensor[]): void {
  const [a] = inputs;
  if (inputs.some((t) => t.h.some((v, i) => v !== a!.h[i]) || t.w.some((v, i) => v !== a!.w[i]))) {
    s.fail('inputs have different spatial sizes');
  }
}

/** Keras axis on an NHWC tensor -> the same axis on NCHW. */
function nchwAxis(s: LayerScope, axis: number): number {
  const a = axis < 0 ? axis + 4 : axis;
  if (a < 1 || a > 3) s.fail(`axis ${axis} is not supported (a non-batch axis of a 4-D tensor)`);
  return [0, 2, 3, 1][a]!;
}

function num(v: unknown, fallback: number): number {
  return typeof v === 'number' ? v : fallback;
}

function pair(s: LayerScope, v: unknown, what: string): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((n) => Number.isInteger(n) && n > 0)) return [v[0], v[1]];
  return s.fail(`${what} ${JSON.stringify(v)} is not an int or a pair of ints`);
}
