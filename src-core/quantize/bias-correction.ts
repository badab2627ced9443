// Empirical bias correction (Nagel et al. 2019, "Data-Free Quantization"; NNCF's default step): rounding
// weights and clipping activations shifts the mean of each conv's output channels. Those shifts add up
// through an SR network into a colour cast that costs PSNR. Each conv's shift is measured on the calibration
// tiles against a float copy of itself (measureBiasShifts) and taken out of its float bias before the int32
// biases are made. Weights and activation ranges do not change.
import { attr, getIntAttr, getIntsAttr, getStringAttr, makeNode } from '../onnx/build.ts';
import { Graph } from '../onnx/graph.ts';
import { keepOnlyOutputs } from '../onnx/keep-only.ts';
import { cloneModel, encodeModel } from '../onnx/model.ts';
import { DataType, makeTensor, tensorDims, tensorToArray, tensorToFloat32 } from '../onnx/tensor.ts';
import type { GraphProto, ModelProto, NodeProto, TensorProto } from '../onnx/types.ts';
import type { RasterImage } from '../image/raster.ts';
import type { RunnerOutput } from '../runtime/runner.ts';
import type { RunnerFactory } from './calibrate.ts';
import { rasterToTensor } from './calibration-tiles.ts';
import type { QuantPlan } from './plan.ts';
import { stepProgress } from '../progress.ts';
import { appendTapsEarliestLast, productionOrder } from './taps.ts';

/** A quantized conv whose float bias gets corrected: the node (in the graph being rewritten) and its bias. */
export interface BiasTarget {
  node: NodeProto;
  bias: string;
  /** The bounds of a Relu/Clip folded into the conv's input quantizer: the float copy must apply them itself. */
  inputClamp?: { min: number; max: number };
  /** The conv's float weights and bias, read before the rewrite quantizes them. */
  float: ConvWeights;
}

/**
 * Convs the plan quantizes with a float bias, recorded before applyPlan folds activations and renames outputs.
 * 2-D stride-1 Conv only (measureBiasShifts derives their output means from input sums): an SR model's error lives
 * in its convs, and srq's exact rewrites turn its ConvTransposes into such convs. Gemm and MatMul (channels on the
 * last axis) and strided convs are left as quantized.
 */
export function biasTargets(graph: GraphProto, plan: QuantPlan): BiasTarget[] {
  const g = new Graph(graph);
  const bound = (name: string | undefined, fallback: number) => {
    const t = name ? g.initializer(name) : undefined;
    return t ? tensorToFloat32(t)[0]! : fallback;
  };
  const clamps = new Map(plan.folded.map((n) => [
    n.output![0]!,
    n.opType === 'Relu' ? { min: 0, max: Infinity } : { min: bound(n.input?.[1], -Infinity), max: bound(n.input?.[2], Infinity) },
  ]));
  // A conv kept float whose input is quantized (by an int8 neighbour) shifts too: its input's clipping and rounding.
  const corrected = (n: NodeProto) => (plan.quantizedNodes.has(n)
    ? plan.biases.has(n.input![2]!)
    : plan.isQuantized(n.input?.[0] ?? '') && g.initializer(n.input![2]!)?.dataType === DataType.FLOAT);
  return g.nodes
    .filter((n) => n.opType === 'Conv' && n.input?.[2] && corrected(n)
      && tensorDims(g.initializer(n.input[1] ?? '') ?? {}).length === 4 && getIntsAttr(n, 'strides', [1, 1]).every((v) => v === 1))
    .map((node) => {
      const inputClamp = clamps.get(node.input![0]!);
      const float = { weights: tensorToFloat32(g.initializer(node.input![1]!)!), bias: tensorToFloat32(g.initializer(node.input![2]!)!) };
      return { node, bias: node.input![2]!, float, ...(inputClamp ? { inputClamp } : {}) };
    });
}

/**
 * Each target conv's mean output shift, per channel: what its own quantization adds (int8 weights and bias,
 * quantized input) on top of the values that reach it in the quantized graph, measured against a float copy of the
 * conv on the input before its QuantizeLinear. Measuring each conv against its own float copy, not against the
 * float network, keeps upstream shifts out: correcting every conv at once for the network-level difference
 * over-corrects downstream convs for shifts their inputs no longer have.
 *
 * A stride-1 conv is linear, so the mean of its output channel is its weights applied to the means of its input
 * over shifted windows (convMeans): the graph needs only per-channel row and column sums of each conv's two inputs
 * and their border rows (few values per tensor), not a float copy of every conv.
 */
export async function measureBiasShifts(
  quantized: ModelProto,
  targets: readonly BiasTarget[],
  tiles: readonly RasterImage[],
  createRunner: RunnerFactory,
  onProgress?: (message: string) => void,
  convsPerSession = CONVS_PER_SESSION,
): Promise<Map<string, Float64Array>> {
  const g = new Graph(quantized.graph!);
  const convs: MeasuredConv[] = [];
  targets.forEach((t, i) => {
    const [input, weight, bias] = t.node.input!;
    const dq = g.producer(input!);
    const q = dq?.opType === 'DequantizeLinear' ? g.producer(dq.input![0]!) : undefined;
    const wq = dequantizedConstant(g, weight!);
    const bq = dequantizedConstant(g, bias!);
    if (q?.opType !== 'QuantizeLinear' || !wq || !bq) return;
    let floatInput = q.input![0]!;
    // A folded Relu/Clip exists only as the quantizer's clamp: apply it to the float copy's input (Max/Min, any opset).
    const clamp: MeasuredConv['clamp'] = { nodes: [], bounds: [] };
    for (const [op, value] of [['Max', t.inputClamp?.min], ['Min', t.inputClamp?.max]] as const) {
      if (value === undefined || !Number.isFinite(value)) continue;
      const [bound, clamped] = [`srq_bc_${i}_${op}_bound`, `srq_bc_${i}_${op}`];
      clamp.bounds.push(makeTensor(bound, DataType.FLOAT, [], new Float32Array([value])));
      clamp.nodes.push(makeNode(op, [floatInput, bound], [clamped]));
      floatInput = clamped;
    }
    convs.push({
      bias: t.bias, output: t.node.output![0]!, geometry: convGeometry(t.node, wq.dims), quantizedInput: input!, floatInput, clamp,
      float: t.float, quantized: { weights: wq.values, bias: bq.values },
    });
  });
  if (convs.length === 0) return new Map();
  // Convs in the order the graph runs them, measured convsPerSession at a time (CONVS_PER_SESSION, see there).
  const position = new Map(productionOrder(quantized.graph!, convs.map((c) => c.output)).map((t, k) => [t, k]));
  convs.sort((a, b) => position.get(a.output)! - position.get(b.output)!);
  const parts = Array.from({ length: Math.ceil(convs.length / convsPerSession) }, (_, p) => convs.slice(p * convsPerSession, (p + 1) * convsPerSession));
  // About one pass over the calibration tiles in all, whatever the depth: a deep model's parts share the tiles out,
  // down to MIN_TILES each (per-channel means of 4 tiles of 128² are 65k pixels each).
  tiles = tiles.slice(0, Math.max(Math.min(tiles.length, MIN_TILES), Math.ceil(tiles.length / parts.length)));
  const sums = new Map<string, { sum: Float64Array; squares: Float64Array }>();
  const stepDone = stepProgress('bias correction: tile', tiles.length * parts.length, onProgress);
  for (const [p, part] of parts.entries()) {
    const { bytes, taps } = sumsModel(quantized, part);
    const runner = await createRunner(bytes, { memoryPattern: false });
    try {
      for (const [i, tile] of tiles.entries()) {
        const { data, dims } = rasterToTensor(tile);
        const out = await runner.runOutputs(data, dims, [...taps.values()].flatMap((t) => [t.rows, t.columns, t.top, t.bottom]));
        const sumsFor = (tensor: string): ChannelSums => {
          const t = taps.get(tensor)!;
          return { rows: out[t.rows]!, columns: out[t.columns]!, top: out[t.top]!, bottom: out[t.bottom]! };
        };
        for (const c of part) {
          const quantizedMean = convMeans(c.quantized, c.geometry, sumsFor(c.quantizedInput));
          const floatMean = convMeans(c.float, c.geometry, sumsFor(c.floatInput));
          const acc = sums.get(c.bias) ?? { sum: new Float64Array(quantizedMean.length), squares: new Float64Array(quantizedMean.length) };
          for (let k = 0; k < quantizedMean.length; k++) {
            const d = quantizedMean[k]! - floatMean[k]!;
            acc.sum[k]! += d;
            acc.squares[k]! += d * d;
          }
          sums.set(c.bias, acc);
        }
        stepDone(p * tiles.length + i + 1, parts.length > 1 ? `convs ${p * convsPerSession + 1}–${p * convsPerSession + part.length} of ${convs.length}` : undefined);
      }
    } finally {
      await runner.release();
    }
  }
  return new Map([...sums].map(([bias, { sum, squares }]) => [bias, consistentShift(sum, squares, tiles.length)]));
}

/**
 * Convs whose input sums one session measures. Reading the float tensor before a QuantizeLinear keeps ORT from
 * fusing its producer into an int8 kernel, and ORT's QDQ and layout passes re-create nodes, so the taps run after
 * the network however they are placed (taps.ts): every tapped tensor stays alive. Real-ESRGAN x4plus (351 convs)
 * in one session peaked at 8.6 GB; a few dozen convs per session bound that at the cost of one run per part.
 */
export const CONVS_PER_SESSION = 48;
/** Fewest tiles a part of a deep model measures on. */
const MIN_TILES = 4;

interface MeasuredConv {
  bias: string;
  /** The conv's output in the quantized graph (orders the convs, and so their taps). */
  output: string;
  geometry: ConvGeometry;
  /** The conv's input as it computes with it (a DequantizeLinear output) and the float tensor it was quantized from. */
  quantizedInput: string;
  floatInput: string;
  /** Nodes (and their bound initializers) that apply a folded Relu/Clip to the float input. */
  clamp: { nodes: NodeProto[]; bounds: TensorProto[] };
  float: ConvWeights;
  quantized: ConvWeights;
}

/** A copy of the quantized model that also outputs the input sums of `convs` (in the order the graph runs them). */
function sumsModel(quantized: ModelProto, convs: readonly MeasuredConv[]): { bytes: Uint8Array; taps: ReturnType<typeof addSumTaps> } {
  const m = cloneModel(quantized);
  const g = m.graph!;
  const groups = new Map<string, NodeProto[]>();
  const sumsOf = new Map<string, { tensor: string; border: number }>();
  for (const c of convs) {
    g.initializer!.push(...c.clamp.bounds);
    for (const tensor of [c.floatInput, c.quantizedInput]) {
      if (!groups.has(tensor)) groups.set(tensor, tensor === c.floatInput ? [...c.clamp.nodes] : []);
      sumsOf.set(tensor, { tensor, border: Math.max(sumsOf.get(tensor)?.border ?? 0, c.geometry.border) });
    }
  }
  const taps = addSumTaps(g, [...sumsOf.values()], groups);
  // Each tensor's group first appears with the first conv that reads it, so insertion order is production order.
  appendTapsEarliestLast(g, [...groups.values()]);
  // The part's session stops at its last sums (keep-only.ts): the graph after them would run for nothing.
  keepOnlyOutputs(g, [...taps.values()].flatMap((t) => [t.rows, t.columns, t.top, t.bottom]));
  return { bytes: encodeModel(m), taps };
}

/** A conv's weights [Cout, Cin/group, kh, kw] and bias [Cout] as floats. */
export interface ConvWeights { weights: Float32Array; bias: Float32Array }

/** What convMeans needs of a stride-1 2-D conv: its shape, padding, dilation and groups. */
export interface ConvGeometry {
  cout: number; cinPerGroup: number; group: number; kh: number; kw: number;
  dilations: [number, number];
  /** Explicit pads [top, left, bottom, right]; auto_pad SAME_* is resolved from the kernel (stride 1). */
  pads: [number, number, number, number] | 'SAME_UPPER' | 'SAME_LOWER';
  /** Rows at the top and bottom that some kernel row never reads: convMeans needs their values. */
  border: number;
}

export function convGeometry(node: NodeProto, weightDims: readonly number[]): ConvGeometry {
  const [cout, cinPerGroup, kh, kw] = weightDims as [number, number, number, number];
  const [dh, dw] = getIntsAttr(node, 'dilations', [1, 1]) as [number, number];
  const autoPad = getStringAttr(node, 'auto_pad', 'NOTSET');
  const pads: ConvGeometry['pads'] = autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER'
    ? autoPad
    : autoPad === 'VALID' ? [0, 0, 0, 0] : getIntsAttr(node, 'pads', [0, 0, 0, 0]) as [number, number, number, number];
  const [top, , bottom] = resolvedPads(pads, kh, kw, dh, dw);
  const reach = dh * (kh - 1);
  return { cout, cinPerGroup, group: getIntAttr(node, 'group', 1), kh, kw, dilations: [dh, dw], pads, border: Math.max(0, reach - top, reach - bottom) };
}

export function resolvedPads(pads: ConvGeometry['pads'], kh: number, kw: number, dh: number, dw: number): [number, number, number, number] {
  if (typeof pads !== 'string') return pads;
  const [th, tw] = [dh * (kh - 1), dw * (kw - 1)];
  const first = (total: number) => (pads === 'SAME_UPPER' ? Math.floor(total / 2) : Math.ceil(total / 2));
  return [first(th), first(tw), th - first(th), tw - first(tw)];
}

/** Per-channel sums of a [1, C, H, W] tensor for one tile: row sums [C, H], column sums [C, W], border rows [C, B, W]. */
export interface ChannelSums { rows: RunnerOutput; columns: RunnerOutput; top: RunnerOutput; bottom: RunnerOutput }

/**
 * The mean over output positions of each output channel of a stride-1 conv, exactly, from its input's ChannelSums:
 * kernel tap (ky, kx) reads the input over one window of rows and columns (the rest is padding), whose sum is the
 * total less the rows and columns outside it plus their corners (which lie in the border rows).
 */
export function convMeans(w: ConvWeights, geo: ConvGeometry, sums: ChannelSums): Float64Array {
  const [, channels, height] = sums.rows.dims as [number, number, number];
  const width = sums.columns.dims[3]!;
  const border = sums.top.dims[2]!;
  const [dh, dw] = geo.dilations;
  const [top, left, bottom, right] = resolvedPads(geo.pads, geo.kh, geo.kw, dh, dw);
  const outH = height + top + bottom - dh * (geo.kh - 1);
  const outW = width + left + right - dw * (geo.kw - 1);
  const rowAt = (c: number, y: number) => sums.rows.data[c * height + y]!;
  const columnAt = (c: number, x: number) => sums.columns.data[c * width + x]!;
  const valueAt = (c: number, y: number, x: number) => (y < border
    ? sums.top.data[(c * border + y) * width + x]!
    : sums.bottom.data[(c * border + y - (height - border)) * width + x]!);
  // Window sums per input channel and kernel tap, divided by the number of output positions.
  const windows = new Float64Array(channels * geo.kh * geo.kw);
  for (let c = 0; c < channels; c++) {
    let total = 0;
    for (let y = 0; y < height; y++) total += rowAt(c, y);
    for (let ky = 0; ky < geo.kh; ky++) {
      const [y0, y1] = [Math.max(0, dh * ky - top), Math.min(height - 1, outH - 1 + dh * ky - top)];
      const outsideRows = [...range(0, y0), ...range(y1 + 1, height)];
      const rowsOut = outsideRows.reduce((n, y) => n + rowAt(c, y), 0);
      for (let kx = 0; kx < geo.kw; kx++) {
        const [x0, x1] = [Math.max(0, dw * kx - left), Math.min(width - 1, outW - 1 + dw * kx - left)];
        const outsideColumns = [...range(0, x0), ...range(x1 + 1, width)];
        let sum = total - rowsOut;
        for (const x of outsideColumns) sum -= columnAt(c, x);
        for (const y of outsideRows) for (const x of outsideColumns) sum += valueAt(c, y, x);
        windows[(c * geo.kh + ky) * geo.kw + kx] = sum / (outH * outW);
      }
    }
  }
  const taps = geo.kh * geo.kw;
  const coutPerGroup = geo.cout / geo.group;
  return Float64Array.from({ length: geo.cout }, (_, o) => {
    const firstChannel = Math.floor(o / coutPerGroup) * geo.cinPerGroup;
    let mean = w.bias[o]!;
    for (let ci = 0; ci < geo.cinPerGroup; ci++) {
      for (let k = 0; k < taps; k++) mean += w.weights[(o * geo.cinPerGroup + ci) * taps + k]! * windows[(firstChannel + ci) * taps + k]!;
    }
    return mean;
  });
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

/**
 * Adds, for each tensor, its row sums, column sums and top and bottom `border` rows as graph outputs; the tap nodes
 * join `groups` under the tensor's name (after any nodes already there that produce it).
 */
function addSumTaps(g: GraphProto, tensors: readonly { tensor: string; border: number }[], groups: Map<string, NodeProto[]>): Map<string, { rows: string; columns: string; top: string; bottom: string }> {
  const int64 = (name: string, values: number[]) => makeTensor(name, DataType.INT64, [values.length], BigInt64Array.from(values.map(BigInt)));
  g.initializer!.push(int64('srq_bc_axis_h', [2]), int64('srq_bc_axis_w', [3]), int64('srq_bc_zero', [0]), int64('srq_bc_end', [2 ** 31 - 1]));
  const taps = new Map<string, { rows: string; columns: string; top: string; bottom: string }>();
  tensors.forEach(({ tensor, border }, i) => {
    const names = { rows: `srq_bc_sums_${i}_rows`, columns: `srq_bc_sums_${i}_columns`, top: `srq_bc_sums_${i}_top`, bottom: `srq_bc_sums_${i}_bottom` };
    const b = Math.max(1, border);
    g.initializer!.push(int64(`srq_bc_sums_${i}_b`, [b]), int64(`srq_bc_sums_${i}_minus_b`, [-b]));
    groups.set(tensor, [
      ...(groups.get(tensor) ?? []),
      makeNode('ReduceSum', [tensor, 'srq_bc_axis_w'], [names.rows], { keepdims: attr.int(0) }),
      makeNode('ReduceSum', [tensor, 'srq_bc_axis_h'], [names.columns], { keepdims: attr.int(1) }),
      makeNode('Slice', [tensor, 'srq_bc_zero', `srq_bc_sums_${i}_b`, 'srq_bc_axis_h'], [names.top]),
      makeNode('Slice', [tensor, `srq_bc_sums_${i}_minus_b`, 'srq_bc_end', 'srq_bc_axis_h'], [names.bottom]),
    ]);
    for (const o of Object.values(names)) g.output!.push({ name: o, type: { tensorType: { elemType: DataType.FLOAT } } });
    taps.set(tensor, names);
  });
  return taps;
}

/**
 * A constant as floats: an initializer, or a DequantizeLinear of initializers (int8 weights per channel on
 * `axis`, int32 biases per tensor or per channel), as the quantized conv computes with it.
 */
export function dequantizedConstant(g: Graph, name: string): { values: Float32Array; dims: number[] } | undefined {
  const init = g.initializer(name);
  if (init) return { values: tensorToFloat32(init), dims: tensorDims(init) };
  const dq = g.producer(name);
  if (dq?.opType !== 'DequantizeLinear') return undefined;
  const [x, scale, zeroPoint] = (dq.input ?? []).map((i) => (i ? g.initializer(i) : undefined));
  if (!x || !scale) return undefined;
  const dims = tensorDims(x);
  const values = tensorToArray(x) as ArrayLike<number>;
  const scales = tensorToFloat32(scale);
  const zeros = zeroPoint ? (tensorToArray(zeroPoint) as ArrayLike<number>) : new Int8Array(scales.length);
  const axis = getIntAttr(dq, 'axis', 1);
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const perChannel = scales.length > 1 ? dims[axis]! : 1;
  return {
    dims,
    values: Float32Array.from({ length: values.length }, (_, j) => {
      const c = perChannel > 1 ? Math.floor(j / inner) % perChannel : 0;
      return (Number(values[j]!) - Number(zeros[c]!)) * scales[c]!;
    }),
  };
}

/**
 * The mean shift per channel, shrunk by how much it varies from tile to tile: mean·max(0, 1 − se²/mean²), with se
 * the standard error of the mean. A shift that depends on the content (clipping on bright tiles only) would not
 * carry over to other photos. On the corpus the shifts hold across the 32 tiles and this changes nothing
 * measurable (waifu2x, whose held-out drop bias correction raises, included); it guards few or unlike tiles.
 */
export function consistentShift(sum: Float64Array, squares: Float64Array, n: number): Float64Array {
  return Float64Array.from(sum, (s, c) => {
    const mean = s / n;
    if (n < 2 || mean === 0) return mean;
    const variance = Math.max(0, (squares[c]! - n * mean * mean) / (n - 1));
    return mean * Math.max(0, 1 - variance / n / (mean * mean));
  });
}

/** What bias correction changed, for reports: convs corrected and the largest shift taken out (in output units). */
export interface BiasCorrection { convs: number; maxShift: number }

/** Subtracts each conv's measured shift from its float bias initializer in `graph` (the float graph, re-quantized next). */
export function correctBiases(graph: GraphProto, shifts: ReadonlyMap<string, Float64Array>): BiasCorrection {
  let maxShift = 0;
  let convs = 0;
  for (const [name, shift] of shifts) {
    const index = graph.initializer!.findIndex((i) => i.name === name);
    if (index < 0) continue;
    const old = graph.initializer![index]!;
    const bias = tensorToFloat32(old);
    if (bias.length !== shift.length) continue;
    for (const d of shift) maxShift = Math.max(maxShift, Math.abs(d));
    graph.initializer![index] = makeTensor(name, DataType.FLOAT, tensorDims(old), Float32Array.from(bias, (v, c) => v - shift[c]!));
    convs++;
  }
  return { convs, maxShift };
}
