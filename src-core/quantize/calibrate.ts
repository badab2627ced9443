// Calibration: run the float model on image tiles and measure the range of every tensor the plan quantizes.
// Streaming, so memory stays bounded by one tile's activations plus one histogram per tensor:
//  pass 1 adds ReduceMin/ReduceMax per tensor to the graph, so each run returns two scalars per tensor;
//  pass 2 (percentile, entropy) fetches whole tensors in groups whose size fits a memory budget and bins them.
import { attr, makeNode, makeValueInfo } from '../onnx/build.ts';
import { encodeModel, cloneModel } from '../onnx/model.ts';
import { DataType } from '../onnx/tensor.ts';
import type { ModelProto, NodeProto } from '../onnx/types.ts';
import type { RasterImage } from '../image/raster.ts';
import type { Runner, RunnerOptions } from '../runtime/runner.ts';
import { rasterToTensor } from './calibration-tiles.ts';
import { entropyThreshold, Histogram, percentileRange } from './histogram.ts';
import type { Range } from './rewrite.ts';

export type CalibrationMethod = 'minmax' | 'percentile' | 'entropy';

/** Makes a runner; `hints` are options the caller should merge into its own (e.g. no memory arena). */
export type RunnerFactory = (model: Uint8Array, hints?: RunnerOptions) => Promise<Runner>;

/** Calibration sessions see one tile and many outputs: no arena keeps the peak at what one run needs. */
const calibrationSession: RunnerOptions = { memoryArena: false };

export interface CalibrationOptions {
  method: CalibrationMethod;
  /** For 'percentile': share of values kept inside the range, e.g. 99.999. */
  percentile?: number;
  /** Bytes of fetched activations per run in pass 2 (default 256 MB). */
  memoryBudget?: number;
  createRunner: RunnerFactory;
  onProgress?: (message: string) => void;
}

export interface CalibrationResult {
  ranges: Map<string, Range>;
  /** Element count of each tensor for one tile (sizes pass 2's groups; reports use it too). */
  elements: Map<string, number>;
  runs: number;
}

/**
 * A copy of the model whose outputs are the min, max and size (as float) of each tensor. Each tensor's reductions
 * are placed right after its producer, so ORT frees the tensor as early as the plain model would; appended at
 * the end they would keep every tapped activation alive at once.
 */
function statsModel(model: ModelProto, tensors: readonly string[]): { bytes: Uint8Array; outputs: Map<string, [string, string, string]> } {
  const m = cloneModel(model);
  const g = m.graph!;
  const outputs = new Map<string, [string, string, string]>();
  const taps = new Map<string, NodeProto[]>();
  tensors.forEach((t, i) => {
    const names: [string, string, string] = [`srq_calib_${i}_min`, `srq_calib_${i}_max`, `srq_calib_${i}_size`];
    taps.set(t, [
      makeNode('ReduceMin', [t], [names[0]], { keepdims: attr.int(0) }),
      makeNode('ReduceMax', [t], [names[1]], { keepdims: attr.int(0) }),
      makeNode('Size', [t], [`${names[2]}_int`]),
      makeNode('Cast', [`${names[2]}_int`], [names[2]], { to: attr.int(DataType.FLOAT) }),
    ]);
    for (const n of names) g.output!.push(makeValueInfo(n, DataType.FLOAT, []));
    outputs.set(t, names);
  });
  const ordered: NodeProto[] = [];
  const placed = new Set<string>();
  const place = (t: string) => {
    if (placed.has(t) || !taps.has(t)) return;
    placed.add(t);
    ordered.push(...taps.get(t)!);
  };
  for (const input of g.input ?? []) place(input.name ?? '');
  for (const node of g.node ?? []) {
    ordered.push(node);
    for (const o of node.output ?? []) place(o);
  }
  g.node = ordered;
  return { bytes: encodeModel(m), outputs };
}

/** A copy of the model that also outputs the given intermediate tensors. */
function tapModel(model: ModelProto, tensors: readonly string[]): Uint8Array {
  const m = cloneModel(model);
  const existing = new Set(m.graph!.output!.map((o) => o.name));
  // Type only, no shape: ORT infers it (a declared shape would have to match exactly).
  for (const t of tensors) if (!existing.has(t)) m.graph!.output!.push({ name: t, type: { tensorType: { elemType: DataType.FLOAT } } });
  return encodeModel(m);
}

export async function calibrate(
  model: ModelProto,
  tensors: readonly string[],
  tiles: readonly RasterImage[],
  opts: CalibrationOptions,
): Promise<CalibrationResult> {
  const ranges = new Map<string, Range>(tensors.map((t) => [t, { min: Infinity, max: -Infinity }]));
  const elements = new Map<string, number>();
  let runs = 0;

  // Pass 1: min / max.
  const stats = statsModel(model, tensors);
  const runner = await opts.createRunner(stats.bytes, calibrationSession);
  try {
    for (let i = 0; i < tiles.length; i++) {
      const { data, dims } = rasterToTensor(tiles[i]!);
      const out = await runner.runOutputs(data, dims, [...stats.outputs.values()].flat());
      runs++;
      for (const [t, [minName, maxName, sizeName]] of stats.outputs) {
        const r = ranges.get(t)!;
        r.min = Math.min(r.min, out[minName]!.data[0]!);
        r.max = Math.max(r.max, out[maxName]!.data[0]!);
        elements.set(t, out[sizeName]!.data[0]!);
      }
      opts.onProgress?.(`calibration min/max: tile ${i + 1}/${tiles.length}`);
    }
  } finally {
    await runner.release();
  }
  for (const [t, r] of ranges) {
    if (!Number.isFinite(r.min) || !Number.isFinite(r.max)) throw new Error(`calibration saw no finite values in tensor ${t}`);
  }
  if (opts.method === 'minmax') return { ranges, elements, runs };

  // Pass 2: histograms over [min, max], fetched in memory-bounded groups.
  const bins = 2048;
  // Entropy bins signed tensors by magnitude (a symmetric threshold, as ORT does); percentile keeps both tails.
  const histograms = new Map(tensors.map((t) => {
    const { min, max } = ranges.get(t)!;
    const byMagnitude = opts.method === 'entropy' && min < 0;
    return [t, byMagnitude ? new Histogram(0, Math.max(-min, max), bins, true) : new Histogram(min, max, bins)];
  }));
  const budget = opts.memoryBudget ?? 256 * 2 ** 20;
  const groups: string[][] = [];
  let current: string[] = [];
  let bytes = 0;
  for (const t of tensors) {
    const size = (elements.get(t) ?? 0) * 4;
    if (current.length > 0 && bytes + size > budget) {
      groups.push(current);
      current = [];
      bytes = 0;
    }
    current.push(t);
    bytes += size;
  }
  if (current.length > 0) groups.push(current);
  for (let gi = 0; gi < groups.length; gi++) {
    const group = groups[gi]!;
    const tap = await opts.createRunner(tapModel(model, group), calibrationSession);
    try {
      for (let i = 0; i < tiles.length; i++) {
        const { data, dims } = rasterToTensor(tiles[i]!);
        const out = await tap.runOutputs(data, dims, group);
        runs++;
        for (const t of group) histograms.get(t)!.add(out[t]!.data);
        opts.onProgress?.(`calibration histograms: group ${gi + 1}/${groups.length}, tile ${i + 1}/${tiles.length}`);
      }
    } finally {
      await tap.release();
    }
  }
  for (const [t, h] of histograms) {
    if (opts.method === 'percentile') {
      ranges.set(t, percentileRange(h, opts.percentile ?? 99.999));
    } else {
      const threshold = entropyThreshold(h);
      const seen = ranges.get(t)!;
      ranges.set(t, h.abs ? { min: Math.max(seen.min, -threshold), max: Math.min(seen.max, threshold) } : { min: seen.min, max: Math.min(seen.max, threshold) });
    }
  }
  return { ranges, elements, runs };
}
