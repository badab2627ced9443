// How far (in input pixels) an output pixel of an SR model can "see": the overlap a tile needs so that
// tiled inference equals untiled inference. Worked out from the graph, not guessed.
//
// Each image-dependent tensor T carries an affine map from its positions to input-image coordinates,
// c(p) = p / scale + offset, and an extent: T[p] depends only on input pixels in
// [c(p) - before, c(p) + after]. Walking the graph in topological order, each op updates these exactly:
// a conv adds its kernel reach (in units of its own input's pixels, i.e. / scale), a Resize multiplies the
// scale and adds the sub-pixel reach of its interpolation, element-wise ops take the max over their inputs.
// The radius is the larger extent at the graph output, rounded up. Runtime-agnostic.
import { getAttr, getIntAttr, getIntsAttr, getStringAttr } from '../onnx/build.ts';
import { Graph } from '../onnx/graph.ts';
import { opsetVersion } from '../onnx/model.ts';
import { tensorDims, tensorToArray } from '../onnx/tensor.ts';
import type { ModelProto, NodeProto, TensorProto } from '../onnx/types.ts';

export class ReceptiveFieldError extends Error {
  override name = 'ReceptiveFieldError';
}

export interface ReceptiveField {
  /** Input px an output pixel depends on towards lower x/y (left, top) and higher x/y (right, bottom). */
  before: number;
  after: number;
  /** Output px per input px, as the graph computes it. */
  scale: number;
  /** max(before, after) rounded up: the overlap a tile needs on each side. */
  radius: number;
}

interface Extent {
  scale: number;
  offset: number;
  before: number;
  after: number;
}

// Ops that map each pixel to the same pixel (channel-wise or element-wise): the extent is the max over inputs.
const POINTWISE = new Set([
  'Relu', 'LeakyRelu', 'PRelu', 'Sigmoid', 'Tanh', 'Elu', 'Selu', 'Celu', 'Softplus', 'Softsign', 'HardSigmoid',
  'HardSwish', 'Gelu', 'Mish', 'Erf', 'Clip', 'Identity', 'Cast', 'CastLike', 'Add', 'Sub', 'Mul', 'Div', 'Pow',
  'Max', 'Min', 'Sum', 'Mean', 'Neg', 'Abs', 'Sqrt', 'Exp', 'Log', 'Reciprocal', 'Floor', 'Ceil', 'Round',
  'Sign', 'QuantizeLinear', 'DequantizeLinear', 'BatchNormalization', 'Dropout', 'Where', 'Not', 'Equal',
  'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or',
]);
// Window ops: Conv-like attributes (kernel_shape, strides, dilations, pads, auto_pad).
const WINDOWED = new Set(['Conv', 'ConvInteger', 'QLinearConv', 'MaxPool', 'AveragePool', 'LpPool']);
// Ops whose output does not depend on pixel values positionally (shape arithmetic).
const SHAPE_ONLY = new Set(['Shape', 'Size']);

export function receptiveFieldRadius(model: ModelProto): number {
  return receptiveField(model).radius;
}

export function receptiveField(model: ModelProto): ReceptiveField {
  const { graph, extents } = tensorExtents(model);
  let result: ReceptiveField | undefined;
  for (const o of graph.outputs) {
    const e = extents.get(o.name ?? '');
    if (!e) continue;
    // Measure relative to where the output pixel sits in the input (p / scale), folding the offset in.
    const before = e.before - e.offset;
    const after = e.after + e.offset;
    const radius = Math.max(0, Math.ceil(Math.max(before, after) - 1e-6));
    if (!result || radius > result.radius) result = { before, after, scale: e.scale, radius };
  }
  if (!result) throw new ReceptiveFieldError('no graph output depends on the graph input; is this an image model?');
  return result;
}

/** Each image tensor's pixels per input pixel along a side (2 after a ×2 DepthToSpace, ½ after a stride-2 conv). */
export function tensorScales(model: ModelProto): Map<string, number> {
  return new Map([...tensorExtents(model).extents].map(([name, e]) => [name, e.scale]));
}

function tensorExtents(model: ModelProto): { graph: Graph; extents: Map<string, Extent> } {
  if (!model.graph) throw new ReceptiveFieldError('model has no graph; pass a decoded ONNX model');
  const graph = new Graph(model.graph);
  const opset = opsetVersion(model) ?? 17;
  const extents = new Map<string, Extent>();
  for (const input of graph.inputs) extents.set(input.name ?? '', { scale: 1, offset: 0, before: 0, after: 0 });
  const consts = new ConstantLookup(graph);

  for (const node of graph.topologicalOrder()) {
    const spatial = (node.input ?? []).filter((x) => x && extents.has(x));
    if (spatial.length === 0 || SHAPE_ONLY.has(node.opType ?? '')) continue;
    if (node.opType === 'DynamicQuantizeLinear') {
      // Dynamic INT8: the values map pixel to pixel; the scale and zero point (outputs 1, 2) are statistics of
      // the whole tile, not of a neighbourhood, so they carry no extent. (Tiles therefore differ slightly from
      // the whole image whatever the overlap: each tile gets its own scale.)
      extents.set(node.output![0]!, extents.get(spatial[0]!)!);
      continue;
    }
    const out = propagate(node, spatial.map((x) => extents.get(x)!), extents, consts, opset);
    for (const o of node.output ?? []) if (o) extents.set(o, out);
  }
  return { graph, extents };
}

function describe(node: NodeProto): string {
  return `${node.opType} node '${node.name || node.output?.[0] || '?'}'`;
}

function unsupported(node: NodeProto, why: string): ReceptiveFieldError {
  return new ReceptiveFieldError(
    `cannot work out the receptive field through ${describe(node)}: ${why}; pass the tile overlap explicitly`,
  );
}

function propagate(
  node: NodeProto,
  ins: Extent[],
  extents: Map<string, Extent>,
  consts: ConstantLookup,
  opset: number,
): Extent {
  const op = node.opType ?? '';
  const data = extents.get(node.input?.[0] ?? '');
  if (POINTWISE.has(op)) return mergeInputs(node, ins);
  if (op === 'Concat' || op === 'Split' || op === 'Softmax' || op === 'LogSoftmax') {
    const axis = getIntAttr(node, 'axis', op === 'Split' ? 0 : op === 'Concat' ? 0 : -1);
    if (axis !== 1) throw unsupported(node, `axis ${axis} is not the channel axis (1)`);
    return mergeInputs(node, ins);
  }
  if (op === 'Transpose') return mergeInputs(node, ins); // extents are isotropic: axis order does not matter
  if (!data) throw unsupported(node, 'its image input is not input 0');
  if (WINDOWED.has(op)) return windowed(node, data, consts);
  if (op === 'ConvTranspose') return convTranspose(node, data, consts);
  if (op === 'Resize' || op === 'Upsample') return resize(node, data, consts, opset);
  if (op === 'DepthToSpace') {
    const b = getIntAttr(node, 'blocksize', 0);
    return nearestUp(data, b, (j) => Math.floor(j / b));
  }
  if (op === 'SpaceToDepth') {
    const b = getIntAttr(node, 'blocksize', 0);
    return { scale: data.scale / b, offset: data.offset, before: data.before, after: data.after + (b - 1) / data.scale };
  }
  if (op === 'Pad') return pad(node, data, consts, opset);
  throw unsupported(node, 'this op is not understood (global or reshaping ops break tiling)');
}

function mergeInputs(node: NodeProto, ins: Extent[]): Extent {
  const first = ins[0]!;
  for (const e of ins) {
    if (Math.abs(e.scale - first.scale) > 1e-9 || Math.abs(e.offset - first.offset) > 1e-9) {
      throw unsupported(node, 'its inputs sit at different resolutions or offsets');
    }
  }
  return {
    scale: first.scale,
    offset: first.offset,
    before: Math.max(...ins.map((e) => e.before)),
    after: Math.max(...ins.map((e) => e.after)),
  };
}

/** Kernel size per spatial axis: the attribute, else the weight's trailing dims. */
function kernelShape(node: NodeProto, consts: ConstantLookup): number[] {
  const k = getIntsAttr(node, 'kernel_shape', []);
  if (k.length > 0) return k;
  const weightInput = node.opType === 'QLinearConv' ? 3 : 1;
  const dims = consts.dims(node.input?.[weightInput] ?? '');
  if (!dims || dims.length < 3) throw unsupported(node, 'no kernel_shape and no constant weight to read it from');
  return dims.slice(2);
}

function windowed(node: NodeProto, e: Extent, consts: ConstantLookup): Extent {
  const k = kernelShape(node, consts);
  const n = k.length;
  const strides = getIntsAttr(node, 'strides', Array(n).fill(1));
  const dil = getIntsAttr(node, 'dilations', Array(n).fill(1));
  const pads = getIntsAttr(node, 'pads', Array(2 * n).fill(0));
  const autoPad = getStringAttr(node, 'auto_pad', 'NOTSET');
  const stride = strides[0]!;
  if (strides.some((s) => s !== stride)) throw unsupported(node, 'strides differ between axes');
  let before = -Infinity;
  let after = -Infinity;
  for (let a = 0; a < n; a++) {
    const reach = dil[a]! * (k[a]! - 1);
    // SAME_* padding for stride 1 is exactly the reach; for larger strides it depends on the size, and
    // the reach is the conservative choice.
    const begin =
      autoPad === 'SAME_UPPER' ? Math.floor(reach / 2)
      : autoPad === 'SAME_LOWER' ? Math.ceil(reach / 2)
      : autoPad === 'VALID' ? 0
      : pads[a]!;
    before = Math.max(before, begin);
    after = Math.max(after, reach - begin);
  }
  return {
    scale: e.scale / stride,
    offset: e.offset,
    before: e.before + before / e.scale,
    after: e.after + after / e.scale,
  };
}

function convTranspose(node: NodeProto, e: Extent, consts: ConstantLookup): Extent {
  const k = kernelShape(node, consts);
  const n = k.length;
  const strides = getIntsAttr(node, 'strides', Array(n).fill(1));
  const dil = getIntsAttr(node, 'dilations', Array(n).fill(1));
  const pads = getIntsAttr(node, 'pads', Array(2 * n).fill(0));
  const s = strides[0]!;
  if (strides.some((x) => x !== s)) throw unsupported(node, 'strides differ between axes');
  if (getStringAttr(node, 'auto_pad', 'NOTSET') !== 'NOTSET') throw unsupported(node, 'auto_pad is not supported here');
  // out[o] = sum over in[i] with i*s - pad + kk*dil = o: i - o/s lies in [(pad - reach)/s, pad/s].
  let before = -Infinity;
  let after = -Infinity;
  for (let a = 0; a < n; a++) {
    const reach = dil[a]! * (k[a]! - 1);
    before = Math.max(before, (reach - pads[a]!) / s);
    after = Math.max(after, pads[a]! / s);
  }
  return { scale: e.scale * s, offset: e.offset, before: e.before + before / e.scale, after: e.after + after / e.scale };
}

/** Upsampling by f where output j reads input positions deps(j) (a set of integer positions). */
function upsample(e: Extent, f: number, deps: (j: number) => number[]): Extent {
  // Interior positions only: at the borders ORT clamps, which only narrows the dependency.
  let before = -Infinity;
  let after = -Infinity;
  const start = Math.ceil(1000 * f);
  const samples = Math.max(64, Math.ceil(16 * f));
  for (let j = start; j < start + samples; j++) {
    const x = j / f;
    for (const q of deps(j)) {
      before = Math.max(before, x - q);
      after = Math.max(after, q - x);
    }
  }
  return { scale: e.scale * f, offset: e.offset, before: e.before + before / e.scale, after: e.after + after / e.scale };
}

function nearestUp(e: Extent, f: number, src: (j: number) => number): Extent {
  if (!(f >= 1)) throw new ReceptiveFieldError(`upsampling factor ${f} is not >= 1`);
  return upsample(e, f, (j) => [src(j)]);
}

function resize(node: NodeProto, e: Extent, consts: ConstantLookup, opset: number): Extent {
  const op = node.opType;
  const inputs = node.input ?? [];
  // Factors: Upsample-7 attribute; Upsample-9 / Resize-10 input 1; Resize-11+ input 2 (scales) or 3 (sizes).
  let scales: number[] | undefined;
  if (op === 'Upsample' && opset < 9) scales = (getAttr(node, 'scales') as number[] | undefined) ?? undefined;
  else if (op === 'Upsample' || opset < 11) scales = consts.values(inputs[1] ?? '');
  else scales = inputs[2] ? consts.values(inputs[2]) : undefined;
  if (!scales || scales.length === 0) {
    throw unsupported(node, inputs[3] ? 'it resizes to a size, not by a constant factor' : 'its scales are not constant');
  }
  const spatial = scales.slice(-2);
  const f = spatial[0]!;
  if (spatial.some((x) => Math.abs(x - f) > 1e-9)) throw unsupported(node, `factors ${spatial.join('x')} differ between axes`);

  const mode = getStringAttr(node, 'mode', 'nearest');
  const legacy = op === 'Upsample' || opset < 11;
  const ctm = legacy ? 'asymmetric' : getStringAttr(node, 'coordinate_transformation_mode', 'half_pixel');
  const origin = (j: number): number => {
    switch (ctm) {
      case 'asymmetric': return j / f;
      case 'half_pixel':
      case 'pytorch_half_pixel': return (j + 0.5) / f - 0.5;
      case 'tf_half_pixel_for_nn': return (j + 0.5) / f;
      default: throw unsupported(node, `coordinate_transformation_mode '${ctm}' depends on the image size`);
    }
  };
  if (mode === 'nearest') {
    const nm = legacy ? 'floor' : getStringAttr(node, 'nearest_mode', 'round_prefer_floor');
    const round =
      nm === 'floor' ? Math.floor
      : nm === 'ceil' ? Math.ceil
      : nm === 'round_prefer_ceil' ? (x: number) => Math.floor(x + 0.5)
      : (x: number) => Math.ceil(x - 0.5);
    return nearestUp(e, f, (j) => round(origin(j)));
  }
  if (mode === 'linear' || mode === 'bilinear') {
    return upsample(e, f, (j) => { const b = Math.floor(origin(j)); return [b, b + 1]; });
  }
  if (mode === 'cubic') {
    return upsample(e, f, (j) => { const b = Math.floor(origin(j)); return [b - 1, b, b + 1, b + 2]; });
  }
  throw unsupported(node, `mode '${mode}' is unknown`);
}

function pad(node: NodeProto, e: Extent, consts: ConstantLookup, opset: number): Extent {
  const pads = opset < 11 ? getIntsAttr(node, 'pads', []) : consts.values(node.input?.[1] ?? '');
  if (!pads || pads.length === 0) throw unsupported(node, 'its pads are not constant');
  if (node.input?.[3]) throw unsupported(node, 'padding only some axes (axes input) is not supported');
  const rank = pads.length / 2;
  // Output position o holds input position o - begin: the map shifts by the (spatial) begin padding.
  const begins = pads.slice(rank - 2, rank);
  if (begins[0] !== begins[1]) throw unsupported(node, 'begin padding differs between axes');
  return { ...e, offset: e.offset - begins[0]! / e.scale };
}

/** Values of constant tensors: initializers and Constant nodes. */
class ConstantLookup {
  private readonly graph: Graph;
  constructor(graph: Graph) {
    this.graph = graph;
  }

  private tensor(name: string): TensorProto | undefined {
    const init = this.graph.initializer(name);
    if (init) return init;
    const producer = this.graph.producer(name);
    if (producer?.opType === 'Constant') {
      const v = getAttr(producer, 'value');
      if (v && typeof v === 'object' && !Array.isArray(v) && 'dataType' in v) return v as TensorProto;
      const floats = getAttr(producer, 'value_floats');
      if (Array.isArray(floats)) return { dataType: 1, dims: [floats.length], floatData: floats as number[] };
      const ints = getAttr(producer, 'value_ints');
      if (Array.isArray(ints)) return { dataType: 7, dims: [ints.length], int64Data: ints as number[] };
    }
    // QDQ models keep weights behind DequantizeLinear; the shape is the quantized initializer's.
    if (producer?.opType === 'DequantizeLinear') return this.tensor(producer.input?.[0] ?? '');
    return undefined;
  }

  values(name: string): number[] | undefined {
    const t = this.tensor(name);
    if (!t) return undefined;
    return Array.from(tensorToArray(t) as ArrayLike<number | bigint>, Number);
  }

  dims(name: string): number[] | undefined {
    const t = this.tensor(name);
    return t ? tensorDims(t) : undefined;
  }
}
