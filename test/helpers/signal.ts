// Comparing float outputs in tests: signal-to-quantization-noise ratio and the largest difference.

/** SQNR in dB of `candidate` against `reference`: 10·log10(Σ ref² / Σ (ref − cand)²); Infinity when equal. */
export function sqnr(reference: Float32Array, candidate: Float32Array): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < reference.length; i++) {
    s += reference[i]! ** 2;
    n += (reference[i]! - candidate[i]!) ** 2;
  }
  return n === 0 ? Infinity : 10 * Math.log10(s / n);
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
