import { ImageTooLargeError } from './errors.ts';
import { readImageHeader } from './header.ts';
import { decodeJpeg } from './jpeg.ts';
import { decodePng } from './png.ts';
import type { RasterImage } from './raster.ts';

/** 40 MP: a 7680×5120 photo. Above that one decoded RGB copy alone is >120 MB. */
export const DEFAULT_MAX_PIXELS = 40e6;

export interface DecodeOptions {
  /** Reject images with more pixels than this, checked from the header before any pixel is decoded. */
  maxPixels?: number;
}

/**
 * Decodes PNG or JPEG bytes to an 8-bit RGB (3ch) or RGBA (4ch) RasterImage.
 * Throws ImageFormatError, ImageTooLargeError or ImageDecodeError (all ImageError).
 */
export function decodeImage(bytes: Uint8Array, options: DecodeOptions = {}): RasterImage {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const header = readImageHeader(bytes);
  if (header.width * header.height > maxPixels) {
    throw new ImageTooLargeError(header.width, header.height, maxPixels);
  }
  return header.format === 'png' ? decodePng(bytes) : decodeJpeg(bytes, maxPixels);
}
