// How int8 weights are rounded for ORT's int8 kernels, beyond per-channel scale and nearest rounding.
//
// 1. Pair sums that fit in int16. ORT's u8s8 GEMM on x86 without VNNI (AVX2, AVX-512BW; GitHub's hosted runners
//    and this machine among them) multiplies input bytes (0–255) by weight bytes with VPMADDUBSW, which adds each
//    pair of adjacent products into an int16 with saturation: two same-sign weights of a pair whose magnitudes add
//    up past 128 give a wrong sum on bright inputs (255·(127 + 127) > 32767). Pairs are adjacent along the reduction
//    axis in the order ORT packs it: (kh, kw, input channel) for a conv, rows for a MatMul weight [K, N]
//    (test/quantize-weight-rounding.test.ts finds them in ORT itself). Each output channel's scale is raised just
//    enough that its widest same-sign pair fits (|a| + |b| ≤ 128), and pairs that rounding still pushes past 128
//    give back a step. ORT's own remedies cost more: 7-bit weights (`reduce_range`) halve every channel's levels,
//    and the U8U8 kernel (`session.x64quantprecision`) ran Real-ESRGAN x4fast 1.5–1.6× slower here.
//    Measured on x4fast (12 held-out crops of 96², MSE ranges, with 2. below): fidelity 35.15 → 37.17 dB; 26.1 →
//    33.8 dB on a crop of coins.png, whose bright pixels saturated the first conv. Wasm, ARM and VNNI CPUs do not saturate; there the
//    raised scales cost little (x4fast: 2160 output channels, 866 have a pair past 128).
// 2. Kernel sums kept. Each conv kernel's response to a flat input (the sum of its taps for one input channel) is
//    rounded as a whole: the taps whose rounding left the most on the side of the sum's residual move one step.
//    Nearest rounding alone leaves up to kh·kw/2 steps in that sum, an error proportional to the local mean of the
//    input, which in photos carries most of the energy (x4fast weights alone int8: 43.1 → 45.3 dB).
/** Where each weight of one output channel sits in the order ORT reduces it; undefined for other layouts. */
export interface ReductionOrder {
  /** Weights per output channel. */
  length: number;
  /** Flat index of the j-th weight (in reduction order) of output channel o. */
  index(o: number, j: number): number;
  /** Conv only: taps per kernel (kh·kw); a kernel is one input channel's taps, `index`es j·… apart by input channel. */
  taps?: number;
  /** Conv only: input channels per group. */
  inputChannels?: number;
}

/**
 * The reduction order of a Conv weight [co, ci, kh, kw] quantized along axis 0, or of a 2-D MatMul/Gemm weight
 * quantized along its output axis; undefined for anything else (those keep nearest rounding).
 */
export function reductionOrder(dims: readonly number[], axis: number | undefined): ReductionOrder | undefined {
  if (dims.length === 4 && axis === 0) {
    const [, ci, kh, kw] = dims as [number, number, number, number];
    const taps = kh * kw;
    return { length: ci * taps, taps, inputChannels: ci, index: (o, j) => (o * ci + (j % ci)) * taps + Math.floor(j / ci) };
  }
  if (dims.length === 2 && (axis === 0 || axis === 1)) {
    const [rows, cols] = dims as [number, number];
    // axis 1: weight [K, N], output channel o is column o; axis 0 (Gemm transB): [N, K], row o.
    return axis === 1 ? { length: rows, index: (o, j) => j * cols + o } : { length: cols, index: (o, j) => o * cols + j };
  }
  return undefined;
}

/** Each output channel's widest same-sign pair |a| + |b| (float), the least its scale must allow at 128 steps. */
export function widestPairs(weights: Float32Array, order: ReductionOrder, channels: number): Float64Array {
  const widest = new Float64Array(channels);
  for (let o = 0; o < channels; o++) {
    for (let j = 0; j + 1 < order.length; j += 2) {
      const a = weights[order.index(o, j)]!;
      const b = weights[order.index(o, j + 1)]!;
      if (a * b > 0) widest[o] = Math.max(widest[o]!, Math.abs(a) + Math.abs(b));
    }
  }
  return widest;
}

/** The largest |a| + |b| of a same-sign pair: 128 · 255 = 32640 ≤ 32767. */
export const PAIR_LIMIT = 128;

/** Brings every same-sign pair to |a| + |b| ≤ PAIR_LIMIT, taking steps from the weight rounded furthest outward. */
export function limitPairs(weights: Float32Array, data: Int8Array, order: ReductionOrder, scales: Float32Array): number {
  let changed = 0;
  for (let o = 0; o < scales.length; o++) {
    const s = scales[o]!;
    for (let j = 0; j + 1 < order.length; j += 2) {
      const ia = order.index(o, j);
      const ib = order.index(o, j + 1);
      let a = data[ia]!;
      let b = data[ib]!;
      if (a * b <= 0 || Math.abs(a) + Math.abs(b) <= PAIR_LIMIT) continue;
      const dir = Math.sign(a);
      let ea = dir * (a - weights[ia]! / s);
      let eb = dir * (b - weights[ib]! / s);
      while (Math.abs(a) + Math.abs(b) > PAIR_LIMIT) {
        if (ea >= eb) { a -= dir; ea -= 1; } else { b -= dir; eb -= 1; }
      }
      data[ia] = a;
      data[ib] = b;
      changed++;
    }
  }
  return changed;
}

/** Rounds each conv kernel (one input channel's taps) so that its int8 sum is the integer nearest its float sum. */
export function keepKernelSums(weights: Float32Array, data: Int8Array, order: ReductionOrder, scales: Float32Array): void {
  const taps = order.taps;
  const ci = order.inputChannels;
  if (!taps || !ci || taps < 2) return;
  for (let o = 0; o < scales.length; o++) {
    const s = scales[o]!;
    for (let c = 0; c < ci; c++) {
      const at = (t: number) => order.index(o, t * ci + c);
      let residual = 0;
      for (let t = 0; t < taps; t++) residual += weights[at(t)]! / s - data[at(t)]!;
      const steps = Math.round(residual);
      if (steps === 0) continue;
      const dir = Math.sign(steps);
      const candidates = Array.from({ length: taps }, (_, t) => at(t))
        .filter((i) => Math.abs(data[i]! + dir) <= 127)
        .sort((a, b) => dir * ((weights[b]! / s - data[b]!) - (weights[a]! / s - data[a]!)));
      for (const i of candidates.slice(0, Math.abs(steps))) data[i] = data[i]! + dir;
    }
  }
}
