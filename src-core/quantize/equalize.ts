// Activation equalization: per-channel scales moved across a conv pair so that one per-tensor int8 range fits every
// channel of the tensor between them. For Conv₁ → f → Conv₂ with f positively homogeneous per channel (Relu,
// LeakyRelu, PRelu: f(k·x) = k·f(x) for k > 0), scaling Conv₁'s output channel c (weights and bias) by k_c and
// Conv₂'s input channel c by 1/k_c computes the same function (up to float rounding). The int8 error changes: an
// activation tensor is quantized with one range for all its channels, so channels far below the widest one get few
// levels; weights are quantized per output channel of each conv, so only Conv₂'s columns feel the 1/k_c.
// k_c = w_c^(1−α) / r_c^α (SmoothQuant's balance, Xiao et al. 2023), with r_c channel c's calibrated max |x| over
// the tensors between the convs and w_c Conv₂'s largest |weight| in column c relative to its row's largest, so that
// the scaled activation ranges r_c·k_c and column ranges w_c/k_c meet at α = 0.5; α = 1 equalizes activations only.
// α = 0.75 was chosen on held-out crops (EQUALIZATION_ALPHA). The per-channel ranges come from calibration's own
// min/max pass, run before the rescaling (the rescaled tensors' ranges follow from them, channelScaledRanges), or,
// where the graph is rewritten between the two (PRelus into int8 element-wise ops), from one extra pass.
import { Graph } from '../onnx/graph.ts';
import type { ModelProto, NodeProto } from '../onnx/types.ts';
import type { RasterImage } from '../image/raster.ts';
import { convParams, isDefault, setConvParams, scaleOut, type ConvParams } from '../optimize/fold-into-conv.ts';
import { floatConstant, perChannel, soleConsumer } from '../optimize/constants.ts';
import { measureMinMax, type MinMaxPass, type RunnerFactory } from './calibrate.ts';
import type { Range } from './rewrite.ts';

/** A conv, the per-channel positively homogeneous ops after it, and the convs that read their result. */
export interface EqualizationSite {
  producer: NodeProto;
  /** The producer's output and each activation's output, in order; the last is what the consumers read. */
  tensors: string[];
  consumers: NodeProto[];
  channels: number;
}

const HOMOGENEOUS = new Set(['Relu', 'LeakyRelu', 'PRelu']);

/** A PRelu whose slope is a constant per channel (or scalar): it commutes with per-channel positive scales. */
function commutes(graph: Graph, node: NodeProto, channels: number): boolean {
  if (!isDefault(node) || !HOMOGENEOUS.has(node.opType ?? '')) return false;
  if (node.opType !== 'PRelu') return true;
  const slope = floatConstant(graph, node.input?.[1] ?? '');
  return slope !== undefined && perChannel(slope, 4, channels) !== undefined;
}

/** A group-1 conv reading `tensor` as its data input, with float initializer weights of `channels` input channels. */
function readsAsConvInput(graph: Graph, node: NodeProto, tensor: string, channels: number): boolean {
  const p = convParams(graph, node);
  return p !== undefined && p.group === 1 && node.input![0] === tensor && p.dims[1] === channels && p.dims.length === 4
    && !node.input!.slice(1).includes(tensor);
}

/** Every pair this module can rescale, each producer conv once. */
export function equalizationSites(model: ModelProto): EqualizationSite[] {
  const graph = new Graph(model.graph!);
  const sites: EqualizationSite[] = [];
  for (const node of graph.topologicalOrder()) {
    const p = convParams(graph, node);
    if (!p || p.dims.length !== 4) continue;
    const tensors = [node.output![0]!];
    for (;;) {
      const next = soleConsumer(graph, tensors.at(-1)!);
      if (!next || next.input?.[0] !== tensors.at(-1) || !commutes(graph, next, p.co)) break;
      tensors.push(next.output![0]!);
    }
    const last = tensors.at(-1)!;
    const consumers = graph.consumers(last);
    if (graph.isGraphOutput(last) || consumers.length === 0) continue;
    if (!consumers.every((c) => readsAsConvInput(graph, c, last, p.co))) continue;
    sites.push({ producer: node, tensors, consumers, channels: p.co });
  }
  return sites;
}

/**
 * Each site's per-channel max |x| over its tensors and the calibration tiles, by the producer's output name: the
 * per-channel min/max of calibration's pass 1 (one run a tile of a copy cut after the sites' tensors). quantizeStatic
 * takes them from its own pass 1 where it can (channelRangesOf); this pass is for models whose graph changes between
 * equalization and calibration (PRelus rewritten after it).
 */
export async function measureChannelRanges(
  model: ModelProto,
  sites: readonly EqualizationSite[],
  tiles: readonly RasterImage[],
  createRunner: RunnerFactory,
  onProgress?: (message: string) => void,
): Promise<Map<string, Float32Array>> {
  const pass = await measureMinMax(model, [], tiles, { createRunner, onProgress }, siteTensors(sites), 'calibration per-channel ranges');
  return channelRangesOf(sites, pass);
}

/** Largest |w| of each input channel of a group-1 conv, relative to the largest |w| of its output row. */
function columnShares(p: ConvParams): Float32Array {
  const [co, ci] = p.dims as [number, number];
  const spatial = p.w.length / (co * ci);
  const share = new Float32Array(ci);
  for (let o = 0; o < co; o++) {
    const row = p.w.subarray(o * ci * spatial, (o + 1) * ci * spatial);
    let rowMax = 0;
    for (const x of row) rowMax = Math.max(rowMax, Math.abs(x));
    if (rowMax === 0) continue;
    for (let c = 0; c < ci; c++) {
      let m = 0;
      for (let j = 0; j < spatial; j++) m = Math.max(m, Math.abs(row[c * spatial + j]!));
      share[c] = Math.max(share[c]!, m / rowMax);
    }
  }
  return share;
}

/**
 * α measured on 12 held-out crops of 96² (fidelity, MSE ranges, no bias correction; α 0.5 / 0.75 / 1): Real-ESRGAN
 * x4fast 39.76 / 40.00 / 38.43 dB (off: 37.17), waifu2x upconv_7 46.52 / 47.72 (off 43.59), esrgan-slim-x4 53.00 /
 * 52.71 (off 51.95), SRVGG ×2 54.47 / 54.70 (off 54.08), RRDBNet-6b 48.54 / 48.59 (off 48.49).
 */
export const EQUALIZATION_ALPHA = 0.75;

export interface Equalization {
  /** Convs whose output channels were rescaled. */
  convs: number;
  /** Each rescaled site's k_c, by its producer's output: the site's tensors' channel c was multiplied by k_c. */
  scales: ReadonlyMap<string, Float32Array>;
  /** The per-channel ranges it used (`known` of a later run on the same model and tiles). */
  ranges: ReadonlyMap<string, Float32Array>;
}

/**
 * Equalizes every site of the float model in place (measure, then rescale): what quantizeStatic runs before
 * calibrating. `known`: ranges an earlier run measured on the same model and tiles (the accuracy-aware rounds).
 */
export async function equalizeActivations(
  model: ModelProto,
  tiles: readonly RasterImage[],
  createRunner: RunnerFactory,
  onProgress?: (message: string) => void,
  known?: ReadonlyMap<string, Float32Array>,
): Promise<Equalization> {
  const sites = equalizationSites(model);
  if (sites.length === 0) return { convs: 0, scales: new Map(), ranges: new Map() };
  const ranges = known ?? await measureChannelRanges(model, sites, tiles, createRunner, onProgress);
  const scales = equalizeSites(model, sites, ranges, EQUALIZATION_ALPHA);
  return { convs: scales.size, scales, ranges };
}

/** The tensors whose channels equalization needs measured: every site's, producer output first. */
export function siteTensors(sites: readonly EqualizationSite[]): string[] {
  return sites.flatMap((s) => s.tensors);
}

/** Each site's per-channel max |x| over its tensors (measureChannelRanges's result) from pass 1's channel min/max. */
export function channelRangesOf(sites: readonly EqualizationSite[], pass: MinMaxPass): Map<string, Float32Array> {
  return new Map(sites.map((s) => {
    const r = new Float32Array(s.channels);
    for (const t of s.tensors) {
      const { min, max } = pass.channels.get(t)!;
      for (let c = 0; c < s.channels; c++) r[c] = Math.max(r[c]!, -min[c]!, max[c]!);
    }
    return [s.tensors[0]!, r];
  }));
}

/**
 * Ranges of the rescaled sites' tensors after equalization, from their channels' min/max before it: channel c now
 * holds k_c times what it held (k_c > 0), so the tensor spans [min_c k_c·min_c, max_c k_c·max_c]. Other tensors
 * compute the same function as before (up to float rounding), so pass 1's ranges stand for the rescaled model.
 */
export function channelScaledRanges(sites: readonly EqualizationSite[], scales: ReadonlyMap<string, Float32Array>, pass: MinMaxPass): Map<string, Range> {
  const ranges = new Map<string, Range>();
  for (const s of sites) {
    const k = scales.get(s.tensors[0]!);
    if (!k) continue;
    for (const t of s.tensors) {
      const { min, max } = pass.channels.get(t)!;
      let lo = Infinity;
      let hi = -Infinity;
      for (let c = 0; c < s.channels; c++) {
        lo = Math.min(lo, k[c]! * min[c]!);
        hi = Math.max(hi, k[c]! * max[c]!);
      }
      ranges.set(t, { min: lo, max: hi });
    }
  }
  return ranges;
}

/** Scales beyond this factor either way are not applied (a near-dead channel would blow up its producer row). */
const MAX_SCALE = 256;

/**
 * Rescales every site in place, in graph order (a conv is a consumer of one site and the producer of the next:
 * its columns and rows take both scales). Returns each changed site's scales, by its producer's output.
 */
export function equalizeSites(
  model: ModelProto,
  sites: readonly EqualizationSite[],
  ranges: ReadonlyMap<string, Float32Array>,
  alpha: number,
): Map<string, Float32Array> {
  const graph = new Graph(model.graph!);
  const changed = new Map<string, Float32Array>();
  for (const site of sites) {
    const r = ranges.get(site.tensors[0]!);
    if (!r) continue;
    const consumers = site.consumers.map((c) => convParams(graph, c)!);
    const w = new Float32Array(site.channels);
    for (const p of consumers) columnShares(p).forEach((s, c) => { w[c] = Math.max(w[c]!, s); });
    const k = new Float32Array(site.channels);
    for (let c = 0; c < site.channels; c++) {
      k[c] = r[c]! > 0 && w[c]! > 0 ? w[c]! ** (1 - alpha) / r[c]! ** alpha : NaN;
    }
    // Normalise so the widest scaled channel keeps the widest range: values stay where they were on the whole.
    let widest = 0;
    let widestScaled = 0;
    for (let c = 0; c < site.channels; c++) {
      widest = Math.max(widest, r[c]!);
      if (Number.isFinite(k[c]!)) widestScaled = Math.max(widestScaled, r[c]! * k[c]!);
    }
    if (widestScaled === 0) continue;
    for (let c = 0; c < site.channels; c++) {
      const v = (k[c]! * widest) / widestScaled;
      k[c] = Number.isFinite(v) ? Math.min(MAX_SCALE, Math.max(1 / MAX_SCALE, v)) : 1;
    }
    const producer = convParams(graph, site.producer)!;
    setConvParams(graph, producer, scaleOut(producer, k), producer.b.map((b, o) => b * k[o]!));
    for (const p of consumers) {
      const [co, ci] = p.dims as [number, number];
      const spatial = p.w.length / (co * ci);
      const cols = p.w.map((x, i) => x / k[Math.floor(i / spatial) % ci]!);
      setConvParams(graph, p, cols, p.b);
    }
    changed.set(site.tensors[0]!, k);
  }
  if (changed.size > 0) graph.removeUnused();
  return changed;
}
