// Quantization arithmetic: scale/zero point from a range, int8 per-channel weights, int32 bias.
// Scales and zero points follow onnxruntime/python/tools/quantization/quant_utils.py (compute_scale_zp), as ORT's
// tool computes them; conv and MatMul weights are then rounded for ORT's int8 kernels (weight-rounding.ts), where
// ORT's tool rounds to nearest.

import type { RoundedWeight } from './gptq.ts';
import { keepKernelSums, limitPairs, PAIR_LIMIT, widestPairs, type ReductionOrder } from './weight-rounding.ts';

export type ActivationType = 'u8' | 's8';

export interface QParams { scale: number; zeroPoint: number }

const limits = { u8: { qmin: 0, qmax: 255 }, s8: { qmin: -128, qmax: 127 } } as const;

/** Smallest range we accept, so constant tensors (e.g. all zeros) still get a usable scale. */
const MIN_REAL_RANGE = 1e-4;

/**
 * Scale and zero point for real values in [rmin, rmax]. The range is widened to include 0 so that zero (padding,
 * ReLU output) is exact. Symmetric ranges use ±max|r| with the zero point in the middle.
 */
export function computeQParams(rmin: number, rmax: number, type: ActivationType, symmetric = false): QParams {
  const { qmin, qmax } = limits[type];
  let lo = Math.min(rmin, 0);
  let hi = Math.max(rmax, 0);
  if (symmetric) {
    const absMax = Math.max(Math.abs(lo), Math.abs(hi));
    lo = -absMax;
    hi = absMax;
  }
  if (hi - lo < MIN_REAL_RANGE) hi = lo + MIN_REAL_RANGE;
  const scale = Math.fround((hi - lo) / (qmax - qmin));
  const zeroPoint = symmetric
    ? type === 'u8' ? 128 : 0
    : Math.min(qmax, Math.max(qmin, Math.round(qmin - lo / scale)));
  return { scale, zeroPoint };
}

/**
 * Per-channel scales of symmetric int8 weights before any bias raises them: max |w| / 127 per slice along `axis`,
 * and with `order` (a conv or MatMul weight, weight-rounding.ts) no smaller than its widest same-sign pair needs.
 */
export function channelScales(weights: Float32Array, dims: readonly number[], axis: number, order?: ReductionOrder): Float32Array {
  const channels = dims[axis]!;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const absMax = new Float64Array(channels);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const base = (o * channels + c) * inner;
      for (let i = 0; i < inner; i++) absMax[c] = Math.max(absMax[c]!, Math.abs(weights[base + i]!));
    }
  }
  // 127, not 128: a symmetric range keeps -w and w equally representable (ORT's tool does the same).
  const scales = Float32Array.from(absMax, (m) => (m > 0 ? m / 127 : 1));
  // ORT's int16 pair sums (weight-rounding.ts): a scale no smaller than the widest same-sign pair needs.
  if (order) widestPairs(weights, order, channels).forEach((w, c) => { if (w / PAIR_LIMIT > scales[c]!) scales[c] = w / PAIR_LIMIT; });
  fitSparseRows(weights, channels, inner, outer, scales);
  return scales;
}

/** A weight at scale s as symmetric int8: nearest, within [-127, 127]. */
export function roundWeight(w: number, s: number): number {
  return Math.max(-127, Math.min(127, Math.round(w / s)));
}

/** Rows with at most this many non-zero weights get a scale fitted to them (fitSparseRows). */
const SPARSE_ROW = 4;

/**
 * A row with few non-zero weights (a PReLU's pair conv, prelu.ts: u_c on y_c, v_c on |y|_c) loses most of its
 * precision to max/127: the smaller weight is off by up to max/254. Any scale max/k with the largest weight
 * exact works as well for the range, so the k in [32, 127] whose rounding leaves the least squared error is
 * taken (never below the scale already required). Dense rows keep max/127.
 */
function fitSparseRows(weights: Float32Array, channels: number, inner: number, outer: number, scales: Float32Array): void {
  for (let c = 0; c < channels; c++) {
    const row: number[] = [];
    for (let o = 0; o < outer && row.length <= SPARSE_ROW; o++) {
      const base = (o * channels + c) * inner;
      for (let i = 0; i < inner && row.length <= SPARSE_ROW; i++) if (weights[base + i] !== 0) row.push(weights[base + i]!);
    }
    if (row.length === 0 || row.length > SPARSE_ROW) continue;
    const max = Math.max(...row.map(Math.abs));
    const error = (s: number) => row.reduce((e, w) => e + (w - s * roundWeight(w, s)) ** 2, 0);
    let best = scales[c]!;
    let bestError = error(best);
    // Largest k first, and only a clear gain moves to a smaller one (float32 scales leave ~1e-14 of noise).
    for (let k = 127; k >= 32; k--) {
      const s = Math.fround(max / k);
      if (s < scales[c]!) continue;
      const e = error(s);
      if (e < bestError - 1e-10 * max * max) { best = s; bestError = e; }
    }
    scales[c] = best;
  }
}

/**
 * Per-channel symmetric int8 weights: one scale per slice along `axis` (channelScales), zero points 0, values in
 * [-127, 127]. `minScales` (per channel, or one value) raises scales that would be smaller: a bias needs
 * s_input·s_weight large enough for its int32 value (ORT's tool adjusts weight scales the same way for int32 biases).
 * With `order` (a conv or MatMul weight, weight-rounding.ts), pairs fit ORT's int16 sums and kernel sums are kept.
 * `rounded` (GPTQ's, gptq.ts) is taken as it is when no bias raised a scale; nearest rounding otherwise.
 */
export function quantizeWeightsPerChannel(
  weights: Float32Array,
  dims: readonly number[],
  axis: number,
  minScales?: ArrayLike<number>,
  order?: ReductionOrder,
  rounded?: RoundedWeight,
): { data: Int8Array; scales: Float32Array; raised: number } {
  const channels = dims[axis]!;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const scales = channelScales(weights, dims, axis, order);
  let raised = 0;
  if (minScales) {
    for (let c = 0; c < channels; c++) {
      const min = minScales.length === 1 ? minScales[0]! : minScales[c]!;
      if (scales[c]! < min) {
        // Round up so that the float32 scale is not below what the bias needs.
        let s = Math.fround(min);
        if (s < min) s = Math.fround(s * (1 + 2 ** -23));
        scales[c] = s;
        raised++;
      }
    }
  }
  if (rounded && raised === 0 && rounded.scales.every((s, c) => s === scales[c])) return { data: Int8Array.from(rounded.data), scales, raised };
  const data = new Int8Array(weights.length);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const base = (o * channels + c) * inner;
      const s = scales[c]!;
      for (let i = 0; i < inner; i++) data[base + i] = roundWeight(weights[base + i]!, s);
    }
  }
  if (order) {
    keepKernelSums(weights, data, order, scales);
    limitPairs(weights, data, order, scales);
  }
  return { data, scales, raised };
}

export const INT32_MAX = 2 ** 31 - 1;

/**
 * The smallest weight scale per bias channel for which bias[c] / (inputScale·s_w) fits in int32 (with a 1e-4
 * margin for float32 rounding of the product). 0 where any scale works.
 */
export function minWeightScalesForBias(bias: Float32Array, inputScale: number): Float64Array {
  return Float64Array.from(bias, (b) => (Math.abs(b) * 1.0001) / (INT32_MAX * inputScale));
}

/** Bias as int32 with scale s_input·s_weight[c] (what QLinearConv adds to its int32 accumulator). */
export function quantizeBias(bias: Float32Array, inputScale: number, weightScales: Float32Array): { data: Int32Array; scales: Float32Array; clamped: number } {
  const scales = new Float32Array(bias.length);
  const data = new Int32Array(bias.length);
  let clamped = 0;
  for (let c = 0; c < bias.length; c++) {
    const s = Math.fround(inputScale * (weightScales.length === 1 ? weightScales[0]! : weightScales[c]!));
    scales[c] = s;
    const q = Math.round(bias[c]! / s);
    if (q > INT32_MAX || q < -(2 ** 31)) clamped++;
    data[c] = Math.max(-(2 ** 31), Math.min(INT32_MAX, q));
  }
  return { data, scales, clamped };
}

/** Round-trip a value through quantization (for error estimates without running a model). */
export function fakeQuantize(x: number, p: QParams, type: ActivationType): number {
  const { qmin, qmax } = limits[type];
  const q = Math.min(qmax, Math.max(qmin, Math.round(x / p.scale) + p.zeroPoint));
  return (q - p.zeroPoint) * p.scale;
}
