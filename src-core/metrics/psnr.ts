import type { RasterImage } from '../image/raster.ts';
import { cropWindow } from './compare.ts';
import type { MetricChannel } from './compare.ts';
import { lumaY } from './ycbcr.ts';

export interface PsnrOptions {
  /** Pixels removed on every side before comparing (BasicSR crop_border; usually the SR scale). Default 0. */
  crop?: number;
  /** 'rgb': MSE over all three channels; 'y': MSE of BT.601 luma (the usual SR benchmark number). Default 'rgb'. */
  channel?: MetricChannel;
}

/** Mean squared error in float64 over the cropped window, in 8-bit units (0..255²). */
export function mse(a: RasterImage, b: RasterImage, options: PsnrOptions = {}): number {
  const { x, y, w, h } = cropWindow(a, b, options.crop ?? 0, 1);
  const useY = (options.channel ?? 'rgb') === 'y';
  const da = a.data;
  const db = b.data;
  let sum = 0;
  for (let row = 0; row < h; row++) {
    let i = ((y + row) * a.width + x) * 3;
    for (let col = 0; col < w; col++, i += 3) {
      if (useY) {
        const d = lumaY(da[i], da[i + 1], da[i + 2]) - lumaY(db[i], db[i + 1], db[i + 2]);
        sum += d * d;
      } else {
        const dr = da[i] - db[i];
        const dg = da[i + 1] - db[i + 1];
        const dbl = da[i + 2] - db[i + 2];
        sum += dr * dr + dg * dg + dbl * dbl;
      }
    }
  }
  return sum / (w * h * (useY ? 1 : 3));
}

/** PSNR in dB, 10·log10(255² / MSE) (BasicSR calculate_psnr); Infinity when the windows are identical. */
export function psnr(a: RasterImage, b: RasterImage, options: PsnrOptions = {}): number {
  const m = mse(a, b, options);
  return m === 0 ? Infinity : 10 * Math.log10((255 * 255) / m);
}
