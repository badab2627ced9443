// Range selection from a histogram: percentile, entropy (KL divergence, TensorRT-style) and MSE.
// Histograms cover the tensor's observed [min, max] with a fixed number of bins (found in a first pass), so
// they merge across tiles by plain addition and memory stays one Float64Array per tensor.
import type { Range } from './rewrite.ts';

export class Histogram {
  readonly counts: Float64Array;
  /** With `abs`, values are binned by magnitude over [0, max]. */
  constructor(readonly min: number, readonly max: number, bins: number, readonly abs = false) {
    this.counts = new Float64Array(bins);
  }

  get bins(): number {
    return this.counts.length;
  }

  binWidth(): number {
    return (this.max - this.min) / this.bins || 1;
  }

  add(values: Float32Array): void {
    const { counts, min } = this;
    const last = counts.length - 1;
    const perBin = 1 / this.binWidth();
    const abs = this.abs;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      const b = Math.floor(((abs && v < 0 ? -v : v) - min) * perBin);
      counts[b < 0 ? 0 : b > last ? last : b]!++;
    }
  }

  /** Value below which `fraction` of the mass lies (linear within the bin). */
  quantile(fraction: number): number {
    const total = this.counts.reduce((a, b) => a + b, 0);
    const target = fraction * total;
    let seen = 0;
    for (let b = 0; b < this.bins; b++) {
      const c = this.counts[b]!;
      if (seen + c >= target) return this.min + (b + (c > 0 ? (target - seen) / c : 0)) * this.binWidth();
      seen += c;
    }
    return this.max;
  }
}

/** Cut (100 − p)/2 % of the mass from each tail (ORT's asymmetric percentile). */
export function percentileRange(h: Histogram, percentile: number): Range {
  const tail = (100 - percentile) / 200;
  return { min: Math.max(h.min, h.quantile(tail)), max: Math.min(h.max, h.quantile(1 - tail)) };
}

/**
 * Entropy calibration (TensorRT's KL method, as ORT's calibrate.py does it): for each candidate clipping bin
 * `end`, P is the histogram cut at `end` with the clipped mass folded into its last bin, Q is the same cut
 * *without* that mass, merged into `levels` quantization levels and spread back over the non-empty bins. The
 * cut with the smallest KL(P || Q) wins. `h` is a histogram of |x| for signed tensors (threshold T gives the
 * range [-T, T] clamped to what was seen) or of x for one-sided ones.
 */
export function entropyThreshold(h: Histogram, levels = 128): number {
  const { counts } = h;
  const bins = counts.length;
  if (bins <= levels) return h.max;
  let bestKl = Infinity;
  let bestEnd = bins;
  const stride = Math.max(1, Math.floor(bins / 512));
  const eps = 1e-4;
  for (let end = levels; end <= bins; end += stride) {
    const p = counts.slice(0, end);
    let outliers = 0;
    for (let b = end; b < bins; b++) outliers += counts[b]!;
    p[end - 1]! += outliers;
    const q = new Float64Array(end);
    const perLevel = end / levels;
    for (let l = 0; l < levels; l++) {
      const start = Math.floor(l * perLevel);
      const stop = l === levels - 1 ? end : Math.floor((l + 1) * perLevel);
      let mass = 0;
      let nonEmpty = 0;
      for (let b = start; b < stop; b++) {
        mass += counts[b]!;
        if (counts[b]! > 0) nonEmpty++;
      }
      for (let b = start; b < stop; b++) if (counts[b]! > 0) q[b] = mass / nonEmpty;
    }
    const kl = klDivergence(p, q, eps);
    if (kl < bestKl) {
      bestKl = kl;
      bestEnd = end;
    }
  }
  return h.min + bestEnd * h.binWidth();
}

/**
 * KL(P || Q) of two unnormalised histograms, as ORT's calibrate.py computes it: smooth_distribution on the raw
 * counts (empty bins get `eps`, the others give up eps·zeros/nonzeros each), then scipy.stats.entropy, which
 * normalises both. Infinity when either has no mass or smoothing would make a bin non-positive.
 */
export function klDivergence(p: Float64Array, q: Float64Array, eps = 1e-4): number {
  const smooth = (x: Float64Array) => {
    let zeros = 0;
    for (const v of x) if (v === 0) zeros++;
    const nonZeros = x.length - zeros;
    if (nonZeros === 0) return undefined;
    const take = (eps * zeros) / nonZeros;
    const out = Float64Array.from(x, (v) => (v === 0 ? eps : v - take));
    let total = 0;
    for (const v of out) {
      if (v <= 0) return undefined;
      total += v;
    }
    for (let i = 0; i < out.length; i++) out[i]! /= total;
    return out;
  };
  const ps = smooth(p);
  const qs = smooth(q);
  if (!ps || !qs) return Infinity;
  let kl = 0;
  for (let b = 0; b < ps.length; b++) kl += ps[b]! * Math.log(ps[b]! / qs[b]!);
  return kl;
}

/**
 * The range whose 8-bit quantization has the smallest expected squared error over the histogram: values inside
 * [lo, hi] cost the rounding noise step²/12 (step = (hi − lo)/(levels − 1)), values outside cost their distance
 * to the clip squared. A PSNR gate scores squared error, so this is the error it sees, unlike KL. Both ends are
 * searched on bin edges (hi from the top, lo from the bottom; a range always holds 0, as the quantizer widens it
 * to). Prefix sums of n, n·x and n·x² make each candidate O(1).
 */
export function mseRange(h: Histogram, levels = 256): Range {
  const { counts, bins } = h;
  const width = h.binWidth();
  const center = (b: number) => h.min + (b + 0.5) * width;
  // Prefix sums over bins [0, b): count, Σx, Σx².
  const n = new Float64Array(bins + 1);
  const sx = new Float64Array(bins + 1);
  const sxx = new Float64Array(bins + 1);
  for (let b = 0; b < bins; b++) {
    const c = counts[b]!;
    const x = center(b);
    n[b + 1] = n[b]! + c;
    sx[b + 1] = sx[b]! + c * x;
    sxx[b + 1] = sxx[b]! + c * x * x;
  }
  // Σ over bins [a, b) of n·(x − t)².
  const clipCost = (a: number, b: number, t: number) => sxx[b]! - sxx[a]! - 2 * t * (sx[b]! - sx[a]!) + t * t * (n[b]! - n[a]!);
  const edge = (b: number) => h.min + b * width;
  // Bin edges that keep 0 inside the range (the quantizer would widen it to 0 anyway).
  const zero = Math.min(bins, Math.max(0, Math.ceil(-h.min / width)));
  const loEdges = h.min >= 0 ? [0] : stridedEdges(0, zero);
  const hiEdges = h.max <= 0 ? [bins] : stridedEdges(Math.max(zero, 1), bins);
  let best = { error: Infinity, min: h.min, max: h.max };
  for (const lo of loEdges) {
    for (const hi of hiEdges) {
      if (hi <= lo) continue;
      const loValue = Math.min(edge(lo), 0);
      const hiValue = Math.max(edge(hi), 0);
      const step = (hiValue - loValue) / (levels - 1);
      const error = clipCost(0, lo, loValue) + clipCost(hi, bins, hiValue) + ((n[hi]! - n[lo]!) * step * step) / 12;
      if (error < best.error) best = { error, min: loValue, max: hiValue };
    }
  }
  return { min: Math.max(h.min, best.min), max: Math.min(h.max, best.max) };
}

/** About 256 bin edges from `from` to `to` inclusive (all of them when there are fewer). */
function stridedEdges(from: number, to: number): number[] {
  const stride = Math.max(1, Math.floor((to - from) / 256));
  const edges: number[] = [];
  for (let b = to; b >= from; b -= stride) edges.push(b);
  if (edges[edges.length - 1] !== from) edges.push(from);
  return edges;
}
