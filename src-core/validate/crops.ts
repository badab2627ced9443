// Side-by-side crops for the HTML report: one window per image, placed where the candidates differ most from the
// reference (that is where a reader should look), plus the difference amplified so that a 1-level difference shows.
// Runtime-agnostic.
import { cropImage, type RasterImage } from '../image/raster.ts';

/** Difference images show |candidate − reference| (mean over RGB) times this, clipped to 255. */
export const DIFFERENCE_GAIN = 32;

export interface ImageCrops {
  image: string;
  /** Window in ground-truth pixels. */
  x: number;
  y: number;
  size: number;
  groundTruth: RasterImage;
  reference: RasterImage;
  /** In the order of the report's candidates. */
  candidates: { output: RasterImage; difference: RasterImage }[];
}

/** Top-left corner of the size×size window with the largest summed |candidate − reference| over all candidates. */
export function mostDifferentWindow(reference: RasterImage, candidates: readonly RasterImage[], size: number): { x: number; y: number } {
  const { width: w, height: h } = reference;
  // Integral image of the per-pixel difference, so every window's sum costs four lookups.
  const sums = new Float64Array((w + 1) * (h + 1));
  for (let y = 0; y < h; y++) {
    let row = 0;
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      for (const c of candidates) {
        row += Math.abs(c.data[i]! - reference.data[i]!) + Math.abs(c.data[i + 1]! - reference.data[i + 1]!) + Math.abs(c.data[i + 2]! - reference.data[i + 2]!);
      }
      sums[(y + 1) * (w + 1) + x + 1] = sums[y * (w + 1) + x + 1]! + row;
    }
  }
  // Ties (e.g. identical outputs everywhere) keep the centre.
  let best = { x: (w - size) >> 1, y: (h - size) >> 1 };
  let bestSum = -1;
  for (let y = 0; y + size <= h; y++) {
    for (let x = 0; x + size <= w; x++) {
      const s = sums[(y + size) * (w + 1) + x + size]! - sums[y * (w + 1) + x + size]! - sums[(y + size) * (w + 1) + x]! + sums[y * (w + 1) + x]!;
      if (s > bestSum + 1e-9) {
        bestSum = s;
        best = { x, y };
      }
    }
  }
  return bestSum > 0 ? best : { x: (w - size) >> 1, y: (h - size) >> 1 };
}

/** Grey image of |a − b| (mean over RGB) × DIFFERENCE_GAIN. */
export function amplifiedDifference(a: RasterImage, b: RasterImage): RasterImage {
  const n = a.width * a.height;
  const data = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const d = Math.abs(a.data[i * 3]! - b.data[i * 3]!) + Math.abs(a.data[i * 3 + 1]! - b.data[i * 3 + 1]!) + Math.abs(a.data[i * 3 + 2]! - b.data[i * 3 + 2]!);
    data[i] = Math.min(255, Math.round((d / 3) * DIFFERENCE_GAIN));
  }
  return { width: a.width, height: a.height, channels: 1, data };
}

/** Crops of ground truth, reference and candidates (all RGB, same size) at the window where they differ most. */
export function cropsFor(image: string, groundTruth: RasterImage, reference: RasterImage, candidates: readonly RasterImage[], maxSize: number): ImageCrops {
  const size = Math.min(maxSize, groundTruth.width, groundTruth.height);
  const { x, y } = mostDifferentWindow(reference, candidates, size);
  const cut = (img: RasterImage) => cropImage(img, x, y, size, size);
  const ref = cut(reference);
  return {
    image,
    x,
    y,
    size,
    groundTruth: cut(groundTruth),
    reference: ref,
    candidates: candidates.map((c) => {
      const output = cut(c);
      return { output, difference: amplifiedDifference(output, ref) };
    }),
  };
}
