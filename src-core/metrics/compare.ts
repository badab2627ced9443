import type { RasterImage } from '../image/raster.ts';
import { MetricInputError } from './errors.ts';

export type MetricChannel = 'rgb' | 'y';

/** The region both metrics read after removing `crop` pixels on every side. */
export interface CropWindow {
  x: number;
  y: number;
  w: number;
  h: number;
}

/**
 * Validates a pair for PSNR/SSIM and returns the window left after the border crop.
 * SR papers crop `scale` pixels (BasicSR `crop_border`), because models see no context there.
 */
export function cropWindow(a: RasterImage, b: RasterImage, crop: number, minSize: number): CropWindow {
  for (const [name, img] of [['first', a], ['second', b]] as const) {
    if (img.channels !== 3 || img.data.length !== img.width * img.height * 3) {
      throw new MetricInputError(
        `${name} image has ${img.channels} channels; metrics need 3-channel RGB (use toRgb or splitAlpha first)`,
      );
    }
  }
  if (a.width !== b.width || a.height !== b.height) {
    throw new MetricInputError(
      `images differ in size (${a.width}x${a.height} vs ${b.width}x${b.height}); mod-crop the HR image to the SR output size`,
    );
  }
  if (!Number.isInteger(crop) || crop < 0) {
    throw new MetricInputError(`crop must be a non-negative integer number of pixels, got ${crop}`);
  }
  const w = a.width - 2 * crop;
  const h = a.height - 2 * crop;
  if (w < minSize || h < minSize) {
    throw new MetricInputError(
      `a ${a.width}x${a.height} image with crop ${crop} leaves ${Math.max(w, 0)}x${Math.max(h, 0)} pixels, ` +
        `need at least ${minSize}x${minSize}; use a smaller crop or a larger image`,
    );
  }
  return { x: crop, y: crop, w, h };
}
