// Quantization arithmetic: scale/zero point from a range, int8 per-channel weights, int32 bias.
// Follows onnxruntime/python/tools/quantization/quant_utils.py (compute_scale_zp) so results match ORT's tool.

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

/** Per-channel symmetric int8 weights: one scale per slice along `axis`, zero points 0, values in [-127, 127]. */
export function quantizeWeightsPerChannel(
  weights: Float32Array,
  dims: readonly number[],
  axis: number,
): { data: Int8Array; scales: Float32Array } {
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
  const data = new Int8Array(weights.length);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const base = (o * channels + c) * inner;
      const s = scales[c]!;
      for (let i = 0; i < inner; i++) data[base + i] = Math.max(-127, Math.min(127, Math.round(weights[base + i]! / s)));
    }
  }
  return { data, scales };
}

/** Bias as int32 with scale s_input·s_weight[c] (what QLinearConv adds to its int32 accumulator). */
export function quantizeBias(bias: Float32Array, inputScale: number, weightScales: Float32Array): { data: Int32Array; scales: Float32Array } {
  const scales = new Float32Array(bias.length);
  const data = new Int32Array(bias.length);
  for (let c = 0; c < bias.length; c++) {
    const s = Math.fround(inputScale * (weightScales.length === 1 ? weightScales[0]! : weightScales[c]!));
    scales[c] = s;
    data[c] = Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round(bias[c]! / s)));
  }
  return { data, scales };
}

/** Round-trip a value through quantization (for error estimates without running a model). */
export function fakeQuantize(x: number, p: QParams, type: ActivationType): number {
  const { qmin, qmax } = limits[type];
  const q = Math.min(qmax, Math.max(qmin, Math.round(x / p.scale) + p.zeroPoint));
  return (q - p.zeroPoint) * p.scale;
}
