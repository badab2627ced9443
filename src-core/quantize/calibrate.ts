// Calibration: run the float model on image tiles and measure the range of every tensor the plan quantizes.
// Streaming, so memory stays bounded by one tile's activations plus one histogram per tensor:
//  pass 1 adds ReduceMin/ReduceMax per tensor to the graph, so each run returns two scalars per tensor;
//  pass 2 (percentile, entropy, mse) fetches a strided sample of every tensor, sized to a memory budget, in one run
//  per tile, and bins it into a histogram per tensor.
import { attr, makeNode, makeValueInfo } from '../onnx/build.ts';
import { encodeModel, cloneModel, opsetVersion } from '../onnx/model.ts';
import { keepOnlyOutputs } from '../onnx/keep-only.ts';
import { DataType, makeTensor } from '../onnx/tensor.ts';
import type { GraphProto, ModelProto, NodeProto } from '../onnx/types.ts';
import { cropImage, type RasterImage } from '../image/raster.ts';
import type { Runner, RunnerOptions } from '../runtime/runner.ts';
import { stepProgress } from '../progress.ts';
import { rasterToTensor } from './calibration-tiles.ts';
import { channelFirstTensors } from './layout.ts';
import { appendTapsEarliestLast, productionOrder } from './taps.ts';
import { entropyThreshold, Histogram, mseRange, percentileRange } from './histogram.ts';
import type { Range } from './rewrite.ts';

export type CalibrationMethod = 'minmax' | 'percentile' | 'entropy' | 'mse';

/**
 * MSE, chosen on held-out photos over the default models and the real-world corpus: against percentile 99.999 it
 * raised fidelity by 0.3–0.8 dB and cut the mean PSNR-Y drop on every model (README, "Quantization quality").
 */
export const DEFAULT_CALIBRATION_METHOD: CalibrationMethod = 'mse';

/** Makes a runner; `hints` are options the caller should merge into its own (e.g. no memory pattern for sessions that return many tensors). */
export type RunnerFactory = (model: Uint8Array, hints?: RunnerOptions) => Promise<Runner>;

/** Calibration sessions see one tile and return many tensors (RunnerOptions.memoryPattern). */
const calibrationSession: RunnerOptions = { memoryPattern: false };

export interface CalibrationOptions {
  method: CalibrationMethod;
  /** For 'percentile': share of values kept inside the range, e.g. 99.999. */
  percentile?: number;
  createRunner: RunnerFactory;
  onProgress?: (message: string) => void;
}

export interface CalibrationResult {
  ranges: Map<string, Range>;
  /** Element count of each tensor for one tile (sizes pass 2's groups; reports use it too). */
  elements: Map<string, number>;
  runs: number;
}

/** Pass 1's outputs for one tensor: its min, max, size, rank and last dimension (as float scalars). */
type StatNames = [min: string, max: string, size: string, rank: string, last: string];

/**
 * A copy of the model whose outputs are each tensor's StatNames. Each tensor's reductions run right after its
 * producer, so ORT frees the tensor as early as the plain model would (taps.ts).
 */
function statsModel(
  model: ModelProto,
  tensors: readonly string[],
  channelTensors: readonly string[],
): { bytes: Uint8Array; outputs: Map<string, StatNames>; channelOutputs: Map<string, [min: string, max: string]> } {
  const m = cloneModel(model);
  const g = m.graph!;
  const outputs = new Map<string, StatNames>();
  const taps = new Map<string, NodeProto[]>();
  g.initializer!.push(
    makeTensor('srq_calib_one', DataType.INT64, [1], BigInt64Array.of(1n)),
    makeTensor('srq_calib_last_axis', DataType.INT64, [], BigInt64Array.of(-1n)),
  );
  const asFloat = (from: string, to: string) => makeNode('Cast', [from], [to], { to: attr.int(DataType.FLOAT) });
  tensors.forEach((t, i) => {
    const names: StatNames = [`srq_calib_${i}_min`, `srq_calib_${i}_max`, `srq_calib_${i}_size`, `srq_calib_${i}_rank`, `srq_calib_${i}_last`];
    const [, , size, rank, last] = names;
    taps.set(t, [
      makeNode('ReduceMin', [t], [names[0]], { keepdims: attr.int(0) }),
      makeNode('ReduceMax', [t], [names[1]], { keepdims: attr.int(0) }),
      makeNode('Size', [t], [`${size}_int`]),
      asFloat(`${size}_int`, size),
      makeNode('Shape', [t], [`${rank}_shape`]),
      makeNode('Size', [`${rank}_shape`], [`${rank}_int`]),
      asFloat(`${rank}_int`, rank),
      // [1, ...shape][-1]: the last dimension, 1 for a scalar.
      makeNode('Concat', ['srq_calib_one', `${rank}_shape`], [`${last}_dims`], { axis: attr.int(0) }),
      makeNode('Gather', [`${last}_dims`, 'srq_calib_last_axis'], [`${last}_int`]),
      asFloat(`${last}_int`, last),
    ]);
    for (const n of names) g.output!.push(makeValueInfo(n, DataType.FLOAT, []));
    outputs.set(t, names);
  });
  // Per channel of an NCHW map: ReduceMin and ReduceMax over batch, height and width ([C] each). Not GlobalMaxPool:
  // on x4plus's last conv output (64 × 512² a 128² tile) it took the pass from 0.97 to 5.9 GB.
  const channelOutputs = new Map<string, [string, string]>();
  const opset = opsetVersion(model) ?? 13;
  if (channelTensors.length > 0) g.initializer!.push(makeTensor('srq_calib_pixel_axes', DataType.INT64, [3], BigInt64Array.of(0n, 2n, 3n)));
  // ReduceMin/ReduceMax take their axes as an input from opset 18, as an attribute before.
  const overPixels = (op: 'ReduceMin' | 'ReduceMax', from: string, to: string) => (opset >= 18
    ? makeNode(op, [from, 'srq_calib_pixel_axes'], [to], { keepdims: attr.int(0) })
    : makeNode(op, [from], [to], { axes: attr.ints([0, 2, 3]), keepdims: attr.int(0) }));
  channelTensors.forEach((t, i) => {
    const names: [string, string] = [`srq_calib_channel_${i}_min`, `srq_calib_channel_${i}_max`];
    (taps.get(t) ?? taps.set(t, []).get(t)!).push(overPixels('ReduceMin', t, names[0]), overPixels('ReduceMax', t, names[1]));
    for (const n of names) g.output!.push({ name: n, type: { tensorType: { elemType: DataType.FLOAT } } });
    channelOutputs.set(t, names);
  });
  placeTaps(g, taps);
  // Only what the stats read is computed (the model's own outputs are not; keep-only.ts).
  keepOnlyOutputs(g, [...[...outputs.values()].flat(), ...[...channelOutputs.values()].flat()]);
  return { bytes: encodeModel(m), outputs, channelOutputs };
}

/** Each tensor's tap nodes, scheduled to run right after its producer (taps.ts). */
function placeTaps(g: GraphProto, taps: ReadonlyMap<string, NodeProto[]>): void {
  appendTapsEarliestLast(g, productionOrder(g, taps.keys()).map((t) => taps.get(t)!));
}

/**
 * How pass 2 samples a tensor: an NCHW map every `stride`-th pixel in height and width (every channel at the same
 * pixels), any other tensor flattened and every `stride`-th value.
 */
interface Sampling { stride: number; grid: boolean }

/**
 * A copy of the model that also outputs each tensor's sample (Slice with steps; flat: after a Reshape to 1-D).
 * Percentiles and histograms of SR activations barely change under subsampling, while memory drops by the
 * stride (squared). Each tensor's stride depends on its own shape and layout only, so its range does not depend on
 * which other tensors are calibrated alongside it.
 */
function sampledTapModel(model: ModelProto, tensors: readonly string[], sampling: ReadonlyMap<string, Sampling>): { bytes: Uint8Array; outputs: Map<string, string> } {
  const m = cloneModel(model);
  const g = m.graph!;
  const outputs = new Map<string, string>();
  const int64 = (name: string, values: number[]) => makeTensor(name, DataType.INT64, [values.length], BigInt64Array.from(values.map(BigInt)));
  g.initializer!.push(
    int64('srq_sample_starts', [0, 0]), int64('srq_sample_ends', [2 ** 31 - 1, 2 ** 31 - 1]), int64('srq_sample_axes', [2, 3]),
    int64('srq_sample_flat', [-1]), int64('srq_sample_start', [0]), int64('srq_sample_end', [2 ** 62]), int64('srq_sample_axis', [0]),
  );
  const steps = new Set<string>();
  const taps = new Map<string, NodeProto[]>();
  tensors.forEach((t, i) => {
    const { stride, grid } = sampling.get(t) ?? { stride: 1, grid: false };
    let out = t;
    if (stride > 1) {
      out = `srq_sample_${i}`;
      const step = `srq_sample_steps_${grid ? 'hw' : 'flat'}_${stride}`;
      if (!steps.has(step)) {
        steps.add(step);
        g.initializer!.push(int64(step, grid ? [stride, stride] : [stride]));
      }
      taps.set(t, grid
        ? [makeNode('Slice', [t, 'srq_sample_starts', 'srq_sample_ends', 'srq_sample_axes', step], [out])]
        : [
          makeNode('Reshape', [t, 'srq_sample_flat'], [`${out}_flat`]),
          makeNode('Slice', [`${out}_flat`, 'srq_sample_start', 'srq_sample_end', 'srq_sample_axis', step], [out]),
        ]);
    }
    // Type only, no shape: ORT infers it (a declared shape would have to match exactly).
    if (!g.output!.some((o) => o.name === out)) g.output!.push({ name: out, type: { tensorType: { elemType: DataType.FLOAT } } });
    outputs.set(t, out);
  });
  placeTaps(g, taps);
  return { bytes: encodeModel(m), outputs };
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * The smallest stride ≥ `needed` that shares no factor with `period`. Grid strides avoid 2 and 3 (period 6), so
 * after a DepthToSpace by 2, 3, 4, 6 or 8 every sub-pixel phase is sampled (an even stride from 0 sees one phase
 * only). Flat strides avoid 2, 3, 5 and the tensor's last dimension (period 30·last): the channels of a token or
 * NHWC map (60, 180, 32) or an NCHW width, each of whose values then lands in the sample.
 */
export function samplingStride(needed: number, period: number): number {
  let s = Math.max(1, Math.ceil(needed));
  while (s > 1 && gcd(s, period) !== 1) s++;
  return s;
}

/**
 * Pass 2 only shapes the histograms inside ranges pass 1 measured on whole tiles, so it runs on crops of at most
 * HISTOGRAM_CROP² cut from each tile. ORT's peak memory grows with every tapped tensor's size (measured on
 * esrgan-medium-x4 at 256²: 0.5 GB plain, ~2 GB with taps); crops keep it to what a 128² tile needs.
 */
const HISTOGRAM_CROP = 128;

/** Values sampled from each tensor per crop: 2^17 (512 kB); a 64-channel 128² tensor is sampled every 3rd pixel. */
const SAMPLE_VALUES = 2 ** 17;

function histogramCrops(tile: RasterImage): RasterImage[] {
  if (tile.width <= HISTOGRAM_CROP && tile.height <= HISTOGRAM_CROP) return [tile];
  const crops: RasterImage[] = [];
  for (let y = 0; y < tile.height; y += HISTOGRAM_CROP) {
    for (let x = 0; x < tile.width; x += HISTOGRAM_CROP) {
      crops.push(cropImage(tile, x, y, Math.min(HISTOGRAM_CROP, tile.width - x), Math.min(HISTOGRAM_CROP, tile.height - y)));
    }
  }
  return crops;
}

/**
 * Pass 1's result: each tensor's range, size, rank and last dimension on the tiles; and, for the tensors asked
 * per channel (NCHW maps), each channel's min and max (what activation equalization scales by, equalize.ts).
 */
export interface MinMaxPass {
  ranges: Map<string, Range>;
  elements: Map<string, number>;
  ranks: Map<string, number>;
  lastDims: Map<string, number>;
  channels: Map<string, { min: Float32Array; max: Float32Array }>;
  runs: number;
}

/**
 * Pass 1: min / max of every tensor over the tiles, one run per tile; per channel too for `channelTensors`.
 * `label` names the pass in progress messages.
 */
export async function measureMinMax(
  model: ModelProto,
  tensors: readonly string[],
  tiles: readonly RasterImage[],
  opts: Pick<CalibrationOptions, 'createRunner' | 'onProgress'>,
  channelTensors: readonly string[] = [],
  label = 'calibration min/max',
): Promise<MinMaxPass> {
  const ranges = new Map<string, Range>(tensors.map((t) => [t, { min: Infinity, max: -Infinity }]));
  const elements = new Map<string, number>();
  const ranks = new Map<string, number>();
  const lastDims = new Map<string, number>();
  const channels = new Map<string, { min: Float32Array; max: Float32Array }>();
  let runs = 0;
  const stats = statsModel(model, tensors, channelTensors);
  const runner = await opts.createRunner(stats.bytes, calibrationSession);
  const done = stepProgress(`${label}: tile`, tiles.length, opts.onProgress);
  try {
    for (let i = 0; i < tiles.length; i++) {
      const { data, dims } = rasterToTensor(tiles[i]!);
      const out = await runner.runOutputs(data, dims, [...[...stats.outputs.values()].flat(), ...[...stats.channelOutputs.values()].flat()]);
      runs++;
      for (const [t, [minName, maxName, sizeName, rankName, lastName]] of stats.outputs) {
        const r = ranges.get(t)!;
        r.min = Math.min(r.min, out[minName]!.data[0]!);
        r.max = Math.max(r.max, out[maxName]!.data[0]!);
        elements.set(t, out[sizeName]!.data[0]!);
        ranks.set(t, out[rankName]!.data[0]!);
        lastDims.set(t, out[lastName]!.data[0]!);
      }
      for (const [t, [minName, maxName]] of stats.channelOutputs) {
        const min = out[minName]!.data;
        const max = out[maxName]!.data;
        const c = channels.get(t) ?? { min: new Float32Array(max.length).fill(Infinity), max: new Float32Array(max.length).fill(-Infinity) };
        channels.set(t, c);
        for (let k = 0; k < max.length; k++) {
          c.min[k] = Math.min(c.min[k]!, min[k]!);
          c.max[k] = Math.max(c.max[k]!, max[k]!);
        }
      }
      done(i + 1);
    }
  } finally {
    await runner.release();
  }
  for (const [t, r] of ranges) {
    if (!Number.isFinite(r.min) || !Number.isFinite(r.max)) throw new Error(`calibration saw no finite values in tensor ${t}`);
  }
  return { ranges, elements, ranks, lastDims, channels, runs };
}

/**
 * Calibrated ranges of `tensors` by `opts.method`. `firstPass`: pass 1 already measured on a model whose
 * tensors have these ranges (quantizeStatic's, before equalization rescaled some); tensors it lacks are measured.
 */
export async function calibrate(
  model: ModelProto,
  tensors: readonly string[],
  tiles: readonly RasterImage[],
  opts: CalibrationOptions,
  firstPass?: MinMaxPass,
): Promise<CalibrationResult> {
  const lacking = tensors.filter((t) => !firstPass?.ranges.has(t));
  const measured = lacking.length > 0 ? await measureMinMax(model, lacking, tiles, opts) : undefined;
  // Each tensor's pass-1 figures, from whichever pass measured it.
  const passOf = (t: string) => (measured?.ranges.has(t) ? measured : firstPass!);
  const ranges = new Map(tensors.map((t) => [t, { ...passOf(t).ranges.get(t)! }]));
  const elements = new Map(tensors.map((t) => [t, passOf(t).elements.get(t)!]));
  const ranks = new Map(tensors.map((t) => [t, passOf(t).ranks.get(t)!]));
  const lastDims = new Map(tensors.map((t) => [t, passOf(t).lastDims.get(t)!]));
  let runs = (measured?.runs ?? 0) + (firstPass?.runs ?? 0);
  if (opts.method === 'minmax') return { ranges, elements, runs };

  // Pass 2: histograms over [min, max] of strided samples, all tensors in one fetch per tile.
  const bins = 2048;
  // Entropy bins signed tensors by magnitude (a symmetric threshold, as ORT does); percentile keeps both tails.
  const histograms = new Map(tensors.map((t) => {
    const { min, max } = ranges.get(t)!;
    const byMagnitude = opts.method === 'entropy' && min < 0;
    return [t, byMagnitude ? new Histogram(0, Math.max(-min, max), bins, true) : new Histogram(min, max, bins)];
  }));
  // Samples of at most SAMPLE_VALUES per tensor per crop, whatever the rank (token tensors grow with the crop too).
  // A pixel grid only where the layout is known NCHW: on an NHWC map it would stride the channels (SwinIR's rolled
  // windows lost their outlier channels, and with them 15 dB of SQNR, to a range fitted to the others).
  const cropShare = Math.min(1, (HISTOGRAM_CROP * HISTOGRAM_CROP) / (tiles[0]!.width * tiles[0]!.height));
  const channelFirst = channelFirstTensors(model);
  const sampling = new Map(tensors.map((t): [string, Sampling] => {
    const ratio = ((elements.get(t) ?? 0) * cropShare) / SAMPLE_VALUES;
    return ranks.get(t) === 4 && channelFirst.has(t)
      ? [t, { stride: samplingStride(Math.sqrt(ratio), 6), grid: true }]
      : [t, { stride: samplingStride(ratio, 30 * (lastDims.get(t) ?? 1)), grid: false }];
  }));
  const tap = sampledTapModel(model, tensors, sampling);
  const sampler = await opts.createRunner(tap.bytes, calibrationSession);
  const histogramsDone = stepProgress('calibration histograms: tile', tiles.length, opts.onProgress);
  try {
    for (let i = 0; i < tiles.length; i++) {
      for (const crop of histogramCrops(tiles[i]!)) {
        const { data, dims } = rasterToTensor(crop);
        const out = await sampler.runOutputs(data, dims, [...tap.outputs.values()]);
        runs++;
        for (const [t, name] of tap.outputs) histograms.get(t)!.add(out[name]!.data);
      }
      histogramsDone(i + 1);
    }
  } finally {
    await sampler.release();
  }
  for (const [t, h] of histograms) {
    if (opts.method === 'percentile') {
      ranges.set(t, percentileRange(h, opts.percentile ?? 99.999));
    } else if (opts.method === 'mse') {
      ranges.set(t, mseRange(h));
    } else {
      const threshold = entropyThreshold(h);
      const seen = ranges.get(t)!;
      ranges.set(t, h.abs ? { min: Math.max(seen.min, -threshold), max: Math.min(seen.max, threshold) } : { min: seen.min, max: Math.min(seen.max, threshold) });
    }
  }
  return { ranges, elements, runs };
}
