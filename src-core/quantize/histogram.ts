// Range selection from a histogram: percentile and entropy (KL divergence, TensorRT-style).
// Histograms cover the tensor's observed [min, max] with a fixed number of bins (found in a first pass), so
// they merge across tiles by plain addition and memory stays one Float64Array per tensor.
import type { Range } from './rewrite.ts';

export class Histogram {
  readonly counts: Float64Array;
  constructor(readonly min: number, readonly max: number, bins: number) {
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
    for (let i = 0; i < values.length; i++) {
      const b = Math.floor((values[i]! - min) * perBin);
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
 * Entropy calibration: choose the upper clipping bin that minimises KL(P || Q), where P is the histogram with the
 * clipped mass folded into the last kept bin and Q is P squeezed into `levels` quantization levels and expanded
 * back. The lower end stays at the observed minimum (SR activations are mostly one-sided after ReLU; for signed
 * tensors clipping the top alone is what matters most for u8). Cost: O(bins²/stride).
 */
export function entropyRange(h: Histogram, levels = 256): Range {
  const { counts } = h;
  const bins = counts.length;
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0 || bins <= levels) return { min: h.min, max: h.max };
  let bestKl = Infinity;
  let bestEnd = bins;
  const stride = Math.max(1, Math.floor(bins / 256));
  for (let end = levels; end <= bins; end += stride) {
    const p = counts.slice(0, end);
    let outliers = 0;
    for (let b = end; b < bins; b++) outliers += counts[b]!;
    p[end - 1]! += outliers;
    // Q: merge p into `levels` groups, spread each group's mass evenly over its non-empty bins.
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
      if (l === levels - 1) mass += outliers;
      for (let b = start; b < stop; b++) if (p[b]! > 0) q[b] = mass / nonEmpty;
    }
    let kl = 0;
    for (let b = 0; b < end; b++) {
      const pb = p[b]! / total;
      const qb = q[b]! / total;
      if (pb > 0) kl += qb > 0 ? pb * Math.log(pb / qb) : pb * 20; // an empty Q bin under real mass: heavy penalty
    }
    if (kl < bestKl) {
      bestKl = kl;
      bestEnd = end;
    }
  }
  return { min: h.min, max: h.min + bestEnd * h.binWidth() };
}
