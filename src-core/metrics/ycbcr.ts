// BT.601 luma as BasicSR computes it for SR benchmarks (`bgr2ycbcr(img, y_only=True)`, "studio
// swing" Y in [16, 235]) — the same formula as MATLAB rgb2ycbcr and scikit-image rgb2ycbcr.
// Kept in float64 and unrounded (BasicSR works in float32; the difference is < 1e-4 dB in PSNR).

import type { RasterImage } from '../image/raster.ts';

/** Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255, with R, G, B in [0, 255]. */
export function lumaY(r: number, g: number, b: number): number {
  return 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255;
}

/** Y plane (width×height, float64) of the w×h window at (x, y) of a 3-channel image. */
export function rgbToY(img: RasterImage, x = 0, y = 0, w = img.width - x, h = img.height - y): Float64Array {
  const out = new Float64Array(w * h);
  const d = img.data;
  for (let row = 0; row < h; row++) {
    let s = ((y + row) * img.width + x) * 3;
    const o = row * w;
    for (let col = 0; col < w; col++, s += 3) out[o + col] = lumaY(d[s], d[s + 1], d[s + 2]);
  }
  return out;
}

/** One channel (0, 1 or 2) of the w×h window at (x, y) of a 3-channel image, as float64. */
export function channelPlane(img: RasterImage, channel: number, x = 0, y = 0, w = img.width - x, h = img.height - y): Float64Array {
  const out = new Float64Array(w * h);
  for (let row = 0; row < h; row++) {
    let s = ((y + row) * img.width + x) * 3 + channel;
    const o = row * w;
    for (let col = 0; col < w; col++, s += 3) out[o + col] = img.data[s];
  }
  return out;
}
