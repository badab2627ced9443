import jpeg from 'jpeg-js';
import { ImageDecodeError, ImageEncodeError } from './errors.ts';
import { assertRaster } from './raster.ts';
import type { RasterImage } from './raster.ts';

/**
 * Decodes a baseline or progressive JPEG to 8-bit RGB (greyscale JPEGs are expanded to RGB).
 * `maxPixels` is passed on so jpeg-js's own allocation guard agrees with ours.
 */
export function decodeJpeg(bytes: Uint8Array, maxPixels: number): RasterImage {
  try {
    const img = jpeg.decode(bytes, {
      useTArray: true, // Uint8Array output; Buffer does not exist in Workers/browsers
      formatAsRGBA: false,
      maxResolutionInMP: maxPixels / 1e6,
      // Coefficients (2 B) + planes (1 B) per component + 3 B output, with headroom for subsampling.
      maxMemoryUsageInMB: Math.max(512, Math.ceil((maxPixels * 16) / 2 ** 20)),
    });
    return { width: img.width, height: img.height, channels: 3, data: img.data };
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    throw new ImageDecodeError(`JPEG is corrupt, truncated or unsupported (${text}); re-export it as baseline JPEG or PNG`);
  }
}

/**
 * Encodes RGB (or grey, replicated) as a baseline JPEG (4:4:4, no chroma subsampling) at `quality` 1..100.
 * JPEG has no alpha: the alpha channel of an RGBA image is dropped (not composited).
 */
export function encodeJpeg(img: RasterImage, quality = 90): Uint8Array {
  assertRaster(img);
  if (!(quality >= 1 && quality <= 100)) {
    throw new ImageEncodeError(`JPEG quality must be between 1 and 100, got ${quality}`);
  }
  const n = img.width * img.height;
  const c = img.channels;
  const rgba = new Uint8Array(n * 4); // jpeg-js reads RGBA and ignores A
  for (let i = 0; i < n; i++) {
    const s = i * c;
    rgba[i * 4] = img.data[s];
    rgba[i * 4 + 1] = img.data[c === 1 ? s : s + 1];
    rgba[i * 4 + 2] = img.data[c === 1 ? s : s + 2];
  }
  const encoded = withBufferFallback(() => jpeg.encode({ width: img.width, height: img.height, data: rgba }, quality).data);
  // Node hands back a Buffer; normalise so callers never depend on Buffer methods.
  return new Uint8Array(encoded.buffer, encoded.byteOffset, encoded.byteLength);
}

/**
 * jpeg-js's encoder ends with `Buffer.from(bytes)` whenever it is loaded as CommonJS, which is also
 * the case inside bundles for Workers/Deno where Buffer may not exist. Provide a minimal stand-in
 * for the duration of the (synchronous) call only; no other code can observe it.
 */
function withBufferFallback<T>(run: () => T): T {
  const g = globalThis as { Buffer?: unknown };
  if (g.Buffer !== undefined) return run();
  g.Buffer = { from: (bytes: ArrayLike<number>) => Uint8Array.from(bytes) };
  try {
    return run();
  } finally {
    delete g.Buffer;
  }
}
