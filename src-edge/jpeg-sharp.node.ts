// JPEG responses on Node and Deno through sharp (libvips; libjpeg-turbo's SIMD code with MozJPEG's quantisation tables).
// Imported dynamically, so that a host where its binary does not load answers with the wasm encoder instead.
import { toRgb } from '../src-core/image/index.ts';
import type { JpegEncoder } from './encoders.ts';

export async function loadSharpJpeg(): Promise<JpegEncoder> {
  const { default: sharp } = await import('sharp');
  // Each response is encoded once: libvips' operation cache would only hold memory.
  sharp.cache(false);
  return {
    name: `sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips})`,
    async encode(img, quality) {
      const rgb = toRgb(img); // as the wasm encoder: grey replicated, alpha dropped
      const raw = { width: rgb.width, height: rgb.height, channels: 3 as const };
      // Table 3 is MozJPEG's default (what the wasm encoder uses); baseline, 4:2:0. The standard Huffman tables, not
      // optimised ones: the same pixels, 2–3% more bytes, and 5–6 ms instead of 14–16 on a 1024² upscaled photo
      // (optimising costs a second pass over the coefficients).
      const jpeg = sharp(rgb.data, { raw }).jpeg({ quality, quantisationTable: 3, optimiseCoding: false, chromaSubsampling: '4:2:0', progressive: false });
      return new Uint8Array(await jpeg.toBuffer());
    },
  };
}
