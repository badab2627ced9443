// SSIM as BasicSR `_ssim` (and Wang et al. 2004): 11×11 Gaussian window with σ = 1.5, C1 = (0.01·255)²,
// C2 = (0.03·255)², population (not sample) variances, evaluated only where the window fits entirely
// inside the image ('valid'), then averaged. scikit-image `structural_similarity(gaussian_weights=True,
// sigma=1.5, use_sample_covariance=False, data_range=255)` gives the same number: it filters the
// whole image with reflected borders but then discards the 5-pixel strip those borders affect.
//
// The window is separable, so each of the five local statistics (means, second moments, cross
// moment) is a horizontal then a vertical 11-tap pass; a ring of 11 horizontally filtered rows keeps
// memory at O(width).

import type { RasterImage } from '../image/raster.ts';
import { cropWindow } from './compare.ts';
import type { MetricChannel } from './compare.ts';
import { channelPlane, rgbToY } from './ycbcr.ts';

export interface SsimOptions {
  /** Pixels removed on every side before comparing (BasicSR crop_border). Default 0. */
  crop?: number;
  /** 'y': SSIM of BT.601 luma (the usual SR number); 'rgb': mean of the three per-channel SSIMs. Default 'y'. */
  channel?: MetricChannel;
}

const RADIUS = 5;
const TAPS = 2 * RADIUS + 1;
const C1 = (0.01 * 255) ** 2;
const C2 = (0.03 * 255) ** 2;

/** Normalised 1-D Gaussian, σ = 1.5, 11 taps (cv2.getGaussianKernel(11, 1.5)). */
const GAUSS: Float64Array = (() => {
  const g = new Float64Array(TAPS);
  let sum = 0;
  for (let k = 0; k < TAPS; k++) sum += g[k] = Math.exp(-((k - RADIUS) ** 2) / (2 * 1.5 * 1.5));
  for (let k = 0; k < TAPS; k++) g[k] /= sum;
  return g;
})();

/** Mean SSIM of two float planes of size w×h (w, h ≥ 11) over the valid region. */
export function ssimPlanes(x: Float64Array, y: Float64Array, w: number, h: number): number {
  const outW = w - 2 * RADIUS;
  const outH = h - 2 * RADIUS;
  // ring[q * TAPS * outW + slot * outW + col]: q = 0 μx, 1 μy, 2 E[x²], 3 E[y²], 4 E[xy] (horizontal pass only).
  const plane = TAPS * outW;
  const ring = new Float64Array(5 * plane);
  const xx = new Float64Array(w);
  const yy = new Float64Array(w);
  const xy = new Float64Array(w);

  const filterRow = (row: number, slot: number) => {
    const base = row * w;
    for (let i = 0; i < w; i++) {
      const a = x[base + i];
      const b = y[base + i];
      xx[i] = a * a;
      yy[i] = b * b;
      xy[i] = a * b;
    }
    const o = slot * outW;
    for (let col = 0; col < outW; col++) {
      const c = base + col + RADIUS; // window centre in the input
      const gc = GAUSS[RADIUS];
      let sx = gc * x[c];
      let sy = gc * y[c];
      let sxx = gc * xx[col + RADIUS];
      let syy = gc * yy[col + RADIUS];
      let sxy = gc * xy[col + RADIUS];
      // The kernel is symmetric: pair taps at ±k to halve the multiplications.
      for (let k = 1; k <= RADIUS; k++) {
        const g = GAUSS[RADIUS + k];
        const l = col + RADIUS - k;
        const r = col + RADIUS + k;
        sx += g * (x[base + l] + x[base + r]);
        sy += g * (y[base + l] + y[base + r]);
        sxx += g * (xx[l] + xx[r]);
        syy += g * (yy[l] + yy[r]);
        sxy += g * (xy[l] + xy[r]);
      }
      ring[o + col] = sx;
      ring[plane + o + col] = sy;
      ring[2 * plane + o + col] = sxx;
      ring[3 * plane + o + col] = syy;
      ring[4 * plane + o + col] = sxy;
    }
  };

  for (let row = 0; row < TAPS - 1; row++) filterRow(row, row);
  const slots = new Int32Array(TAPS);
  let total = 0;
  for (let outRow = 0; outRow < outH; outRow++) {
    const newest = outRow + TAPS - 1;
    filterRow(newest, newest % TAPS);
    for (let k = 0; k < TAPS; k++) slots[k] = ((outRow + k) % TAPS) * outW;
    let rowSum = 0;
    for (let col = 0; col < outW; col++) {
      const centre = slots[RADIUS] + col;
      const gc = GAUSS[RADIUS];
      let mx = gc * ring[centre];
      let my = gc * ring[plane + centre];
      let exx = gc * ring[2 * plane + centre];
      let eyy = gc * ring[3 * plane + centre];
      let exy = gc * ring[4 * plane + centre];
      for (let k = 1; k <= RADIUS; k++) {
        const g = GAUSS[RADIUS + k];
        const up = slots[RADIUS - k] + col;
        const down = slots[RADIUS + k] + col;
        mx += g * (ring[up] + ring[down]);
        my += g * (ring[plane + up] + ring[plane + down]);
        exx += g * (ring[2 * plane + up] + ring[2 * plane + down]);
        eyy += g * (ring[3 * plane + up] + ring[3 * plane + down]);
        exy += g * (ring[4 * plane + up] + ring[4 * plane + down]);
      }
      const mxy = mx * my;
      const mxx = mx * mx;
      const myy = my * my;
      const num = (2 * mxy + C1) * (2 * (exy - mxy) + C2);
      const den = (mxx + myy + C1) * (exx - mxx + (eyy - myy) + C2);
      rowSum += num / den;
    }
    total += rowSum;
  }
  return total / (outW * outH);
}

/** Mean SSIM in [-1, 1] (1 = identical), BasicSR calculate_ssim convention. Needs ≥ 11×11 after the crop. */
export function ssim(a: RasterImage, b: RasterImage, options: SsimOptions = {}): number {
  const { x, y, w, h } = cropWindow(a, b, options.crop ?? 0, TAPS);
  if ((options.channel ?? 'y') === 'y') {
    return ssimPlanes(rgbToY(a, x, y, w, h), rgbToY(b, x, y, w, h), w, h);
  }
  let sum = 0;
  for (let c = 0; c < 3; c++) sum += ssimPlanes(channelPlane(a, c, x, y, w, h), channelPlane(b, c, x, y, w, h), w, h);
  return sum / 3;
}
