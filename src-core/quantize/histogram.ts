// Range selection from a histogram: percentile and entropy (KL divergence, TensorRT-style).
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
